"""`[fleet]` of rig.toml: where the lab's PostgreSQL and MQTT broker are, never their secrets.

```toml
[fleet]
postgres = "postgresql://rig@db.lab:5432/lab"   # or "service=lab" (~/.pg_service.conf)
# postgres_password_env = "RIG_PG_PASSWORD"     # else libpq's own: PGPASSWORD, ~/.pgpass
mqtt = "mqtt://broker.lab:1883"                 # mqtts://broker.lab:8883 for TLS
# mqtt_username = "rig"
# mqtt_password_env = "RIG_MQTT_PASSWORD"
# mqtt_ca_file = "/etc/rig/lab-ca.pem"          # TLS: the broker's CA (default: the system's)
# home_assistant = true                         # MQTT discovery of each bay's sensors
```

A password is never written in the config: one inside the URL (or a `password=` in a conninfo)
is a config error naming the key, and the message does not repeat the URL. Passwords come
from the environment (the named variable, or libpq's PGPASSWORD) or a libpq service or
password file, and are only read when the rig connects.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rig.errors import ConfigError
from rig.tomlcheck import Table

MQTT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A topic level must not hold MQTT's separators or wildcards.
_TOPIC_UNSAFE = re.compile(r"[/+#\x00]")


@dataclass(frozen=True)
class PostgresSettings:
    conninfo: str  # a libpq URL or key=value string, without a password
    password_env: str | None = None
    label: str = "rig.toml: fleet.postgres"

    def connect_kwargs(self) -> dict[str, Any]:
        """What psycopg.connect takes, with the password read from the environment now."""
        kwargs: dict[str, Any] = {}
        if self.password_env is not None:
            password = os.environ.get(self.password_env)
            if not password:
                raise ConfigError(
                    f"{self.label}_password_env: the environment variable"
                    f" {self.password_env} is not set"
                )
            kwargs["password"] = password
        return kwargs


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    tls: bool = False
    ca_file: Path | None = None
    username: str | None = None
    password_env: str | None = None
    home_assistant: bool = False
    label: str = "rig.toml: fleet.mqtt"

    def password(self) -> str | None:
        if self.password_env is None:
            return None
        password = os.environ.get(self.password_env)
        if not password:
            raise ConfigError(
                f"{self.label}_password_env: the environment variable"
                f" {self.password_env} is not set"
            )
        return password


@dataclass(frozen=True)
class FleetConfig:
    """None of both: a rig on its own, records in its SQLite file only."""

    postgres: PostgresSettings | None = None
    mqtt: MqttSettings | None = None

    @property
    def enabled(self) -> bool:
        return self.postgres is not None or self.mqtt is not None


def read_fleet(t: Table | None, base_dir: Path) -> FleetConfig:
    if t is None:
        return FleetConfig()
    postgres = _postgres(t)
    mqtt = _mqtt(t, base_dir)
    t.finish()
    return FleetConfig(postgres=postgres, mqtt=mqtt)


def _env_name(t: Table, key: str) -> str | None:
    name = t.text(key, None)
    if name is not None and not _ENV_NAME.fullmatch(name):
        raise t.error(key, f"must name an environment variable, got {name!r}")
    return name


def _postgres(t: Table) -> PostgresSettings | None:
    conninfo = t.text("postgres", None)
    password_env = _env_name(t, "postgres_password_env")
    if conninfo is None:
        if password_env is not None:
            raise t.error("postgres_password_env", "given without fleet.postgres")
        return None
    # libpq's own parser (psycopg is only loaded when a fleet database is configured).
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(conninfo)
    except ProgrammingError:
        # libpq's message may quote the string, and a password with it: say no more.
        raise t.error(
            "postgres", 'not a PostgreSQL URL or conninfo (e.g. "postgresql://rig@host/db")'
        ) from None
    if params.get("password"):
        raise t.error(
            "postgres",
            "holds a password: remove it, and give it in the environment"
            " (PGPASSWORD or fleet.postgres_password_env) or a libpq service/password file",
        )
    return PostgresSettings(conninfo, password_env, label=t.where("postgres"))


def _mqtt(t: Table, base_dir: Path) -> MqttSettings | None:
    url = t.text("mqtt", None)
    username = t.text("mqtt_username", None)
    password_env = _env_name(t, "mqtt_password_env")
    ca_file = t.text("mqtt_ca_file", None)
    home_assistant = t.flag("home_assistant", False)
    if url is None:
        for key, value in (
            ("mqtt_username", username),
            ("mqtt_password_env", password_env),
            ("mqtt_ca_file", ca_file),
            ("home_assistant", home_assistant or None),
        ):
            if value is not None:
                raise t.error(key, "given without fleet.mqtt")
        return None
    parts = urlsplit(url)
    if parts.password is not None or parts.username is not None:
        raise t.error(
            "mqtt",
            "holds a user or password: use fleet.mqtt_username and the environment"
            " (fleet.mqtt_password_env)",
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in MQTT_PORTS or not parts.hostname or port == -1 or parts.path.strip("/"):
        raise t.error("mqtt", f'must be "mqtt://host:port" or "mqtts://host:port", got {url!r}')
    ca_path = None
    if ca_file is not None:
        ca_path = Path(os.path.expandvars(ca_file)).expanduser()
        ca_path = ca_path if ca_path.is_absolute() else base_dir / ca_path
        if parts.scheme != "mqtts":
            raise t.error("mqtt_ca_file", "is for TLS: use an mqtts:// URL in fleet.mqtt")
    return MqttSettings(
        host=parts.hostname,
        port=port or MQTT_PORTS[parts.scheme],
        tls=parts.scheme == "mqtts",
        ca_file=ca_path,
        username=username,
        password_env=password_env,
        home_assistant=bool(home_assistant),
        label=t.where("mqtt"),
    )


def check_topic_names(station: str, bays: list[str], label: str) -> None:
    """The station's and bays' names are levels of the topics: no '/', '+' or '#'."""
    for what, name in [("station.name", station), *((f"bay {b!r}", b) for b in bays)]:
        if _TOPIC_UNSAFE.search(name):
            raise ConfigError(
                f"{label}: {what}: {name!r} cannot be an MQTT topic level (no '/', '+', '#')"
            )
