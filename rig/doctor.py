"""`rig doctor`: is this station ready? One line per check, a pass or what to do about it.

A technician runs it after wiring and after every change. Each check is a small function that
returns a `Check`; `iter_checks` runs them in order (config, pins, boards, PoE switches, camera
NIC, SADP, records, clock, the solenoids' rest, the fleet's servers) and `run_checks` collects
them. The edges it touches
(sysfs, timedatectl, the wall clock, the disk, the kernel's lock table) are parameters, so the
tests drive every line on loopback.

Doctor may run beside a running station. It never takes the data directory's lock
(`station.lock`) and never moves an actuator: it opens a board only to ask HELLO (the board's
SAFE at close changes nothing on an idle board), and not at all while a station holds the
records (seen in /proc/locks, without opening the lock file) or another process has its port
open (/proc/PID/fd): a second reader on a station's port would steal its answers. A switch
is only read (SNMP GETs, never a SET); the fleet's PostgreSQL is read in read-only
transactions, and its MQTT broker sees a client of doctor's own (never the station's id, whose
takeover would drop the station and fire its last will).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import serial

from rig.config import (
    BoardConfig,
    NetworkConfig,
    RigConfig,
    SwitchConfig,
    load_config,
    resolve_data_dir,
)
from rig.errors import ConfigError, HardwareFault, NetworkError, RigError
from rig.fleet.settings import MqttSettings, PostgresSettings
from rig.hardware.board import ANSWER_TIMEOUT_S, PROTOCOL_VERSION, BoardChannel, BoardLink
from rig.hardware.gpio import (
    GpioPower,
    GpioPresser,
    describe_pin_factory,
    resolved_pin_factory,
)
from rig.hardware.switch import SwitchPool, SwitchPort
from rig.network.sadp import SadpClient, SadpReply
from rig.records.lock import LOCK_NAME
from rig.records.store import DB_NAME, RecordStore

SYSFS_NET = Path("/sys/class/net")
PROC = Path("/proc")
PROC_LOCKS = PROC / "locks"
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
#: Below this much free space under the records, the check fails.
MIN_FREE_BYTES = 100_000_000
SADP_WINDOW_S = 1.0

INSTALL_LGPIO = (
    "install lgpio (`pip install lgpio` on 64-bit Raspberry Pi OS; on 32-bit, Debian's"
    " python3-lgpio in a venv made with --system-site-packages)"
)


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"  # not checked: an earlier check failed, or checking would disturb a station


@dataclass(frozen=True)
class Check:
    """One check's result: `check` names the kind ("board"), `message` is the line's text."""

    check: str
    status: Status
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.status} {self.message}"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": self.check,
            "status": str(self.status),
            "message": self.message,
        }
        if self.details:
            out["details"] = dict(self.details)
        return out


def failed(checks: Sequence[Check]) -> bool:
    return any(c.status is Status.FAIL for c in checks)


# -- 1. the config --------------------------------------------------------------------------


def check_config(path: Path) -> tuple[Check, RigConfig | None]:
    try:
        config = load_config(path, need_bays=False)
    except ConfigError as exc:
        return Check("config", Status.FAIL, f"config {exc}", {"path": str(path)}), None
    bays, boards = len(config.bays), len(config.boards)
    summary = f"config {path}: station {config.station.name}, {bays} bay(s), {boards} board(s)"
    details = {"path": str(path), "bays": [b.name for b in config.bays], "boards": boards}
    if not config.bays:
        message = f"{summary}: no [[bays]] yet, add one to reset units (`rig init` has examples)"
        return Check("config", Status.WARN, message, details), config
    return Check("config", Status.PASS, summary, details), config


# -- 2. the pin factory and PWM --------------------------------------------------------------


def gpio_bays(config: RigConfig) -> list[str]:
    return [
        b.name
        for b in config.bays
        if isinstance(b.power, GpioPower) or isinstance(b.presser, GpioPresser)
    ]


def check_pins(config: RigConfig, pin_factory: Any = None) -> Check | None:
    """The pin factory the bays' GPIOs would get, and PWM for each solenoid that wants it.
    None when no bay uses a Pi GPIO."""
    users = gpio_bays(config)
    if not users:
        return None
    with warnings.catch_warnings(record=True) as fallbacks:
        warnings.simplefilter("always")
        try:
            factory = resolved_pin_factory(pin_factory)
        except Exception as exc:  # gpiozero's BadPinFactory, or a factory failing to start
            why = _lgpio_fallback(fallbacks) or str(exc)
            message = (
                f"pins: gpiozero found no pin factory ({why}): on a Raspberry Pi, {INSTALL_LGPIO}"
            )
            return Check("pins", Status.FAIL, message, {"bays": users})
    name, has_pwm = describe_pin_factory(factory)
    details: dict[str, Any] = {"factory": name, "pwm": has_pwm, "bays": users}
    wants_pwm = [
        f"bay {b.name} solenoid (GPIO{b.presser.gpio})"
        for b in config.bays
        if isinstance(b.presser, GpioPresser) and b.presser.pwm
    ]
    if wants_pwm and not has_pwm:
        passed_over = _lgpio_fallback(fallbacks)
        because = f" ({passed_over})" if passed_over else ""
        message = (
            f"pins: the {name} pin factory{because} has no PWM, which {', '.join(wants_pwm)}"
            f" needs for pwm = true: {INSTALL_LGPIO} or set pwm = false"
        )
        return Check("pins", Status.FAIL, message, details)
    pwm = "PWM available" if has_pwm else "no PWM, and no solenoid needs it"
    message = f"pins: {name} pin factory, {pwm} (bays on GPIO: {', '.join(users)})"
    return Check("pins", Status.PASS, message, details)


def _lgpio_fallback(caught: list[warnings.WarningMessage]) -> str | None:
    """Why gpiozero passed over lgpio, as its fallback warning says ("lgpio: No module...")."""
    for w in caught:
        text = str(w.message)
        if "from lgpio" in text:
            return "lgpio: " + text.split(":", 1)[-1].strip()
    return None


# -- 3. the boards ---------------------------------------------------------------------------


def board_channels(config: RigConfig) -> dict[str, dict[int, list[str]]]:
    """Per board, the channels the bays use and by which bays."""
    used: dict[str, dict[int, list[str]]] = {name: {} for name in config.boards}
    for bay in config.bays:
        for settings in (bay.power, bay.presser):
            if isinstance(settings, BoardChannel):
                users = used.setdefault(settings.board, {}).setdefault(settings.channel, [])
                if bay.name not in users:
                    users.append(bay.name)
    return used


class _HelloLink(BoardLink):
    """A BoardLink that remembers what HELLO answered, so a refused open can say why."""

    hello: dict[str, str] | None = None

    def request(self, verb: str, *args: object) -> dict[str, str]:
        answer = super().request(verb, *args)
        if verb == "HELLO":
            self.hello = answer
        return answer


def check_board(
    board: BoardConfig,
    channels_used: Mapping[int, Sequence[str]] | None = None,
    *,
    answer_timeout_s: float = ANSWER_TIMEOUT_S,
    station_pid: int | None = None,
    data_dir: Path | None = None,
    users: Sequence[tuple[int, str]] = (),
) -> Check:
    """Open the board, read its HELLO (protocol, firmware, channels), close it.

    Left alone when a running station holds the records (`station_pid`) or another process
    has the port open (`users`: pid and command): a second reader would take its answers."""
    where = f"board {board.name} ({board.port})"
    details: dict[str, Any] = {"board": board.name, "port": board.port}
    if station_pid is not None:
        message = (
            f"{where}: not opened: a running station (pid {station_pid}) holds the records in"
            f" {data_dir} and may be driving it; stop the station to check the board"
        )
        return Check("board", Status.SKIP, message, {**details, "station_pid": station_pid})
    if users:
        by = ", ".join(f"pid {pid} ({command})" for pid, command in users)
        message = f"{where}: not opened: in use by {by} (a running station?); stop it to check"
        message += " the board"
        return Check("board", Status.SKIP, message, {**details, "pids": [u[0] for u in users]})
    open_error: list[BaseException] = []

    def open_port(url: str, **kwargs: Any) -> Any:
        try:
            # BoardLink opens it exclusive: a port another rig holds is refused, not shared.
            return serial.serial_for_url(url, **kwargs)
        except BaseException as exc:
            open_error.append(exc)
            raise

    link = _HelloLink(
        board.name, board.port, answer_timeout_s=answer_timeout_s, serial_for_url=open_port
    )
    try:
        link.open()
    except HardwareFault as exc:
        if open_error:
            message = f"{where}: {_open_failure(board, open_error[0])}"
            return Check("board", Status.FAIL, message, {**details, "error": str(open_error[0])})
        if link.hello is None:
            reason = _strip_board(str(exc), board.name)
            message = f"{where}: {reason}: is the firmware flashed? (firmware/README.md)"
            return Check("board", Status.FAIL, message, details)
        proto = link.hello.get("proto")
        message = (
            f"{where}: speaks protocol {proto!r} (firmware {link.hello.get('fw', '?')}),"
            f" rig needs {PROTOCOL_VERSION}: flash the firmware in firmware/ (firmware/README.md)"
        )
        return Check("board", Status.FAIL, message, {**details, "protocol": proto})
    try:
        firmware, channels = link.firmware, link.channels
    finally:
        link.close()
    details.update(protocol=PROTOCOL_VERSION, firmware=firmware, channels=channels)
    beyond = sorted(ch for ch in (channels_used or {}) if ch > channels)
    if beyond:
        ch = beyond[-1]
        bays = ", ".join((channels_used or {})[ch])
        message = (
            f"{where}: firmware {firmware} has {channels} channel(s), but bay {bays} uses"
            f" channel {ch}: is [boards.{board.name}] port the right board? else fix the"
            " bay's channel"
        )
        return Check("board", Status.FAIL, message, details)
    message = f"{where}: protocol {PROTOCOL_VERSION}, firmware {firmware}, {channels} channel(s)"
    return Check("board", Status.PASS, message, details)


def _open_failure(board: BoardConfig, exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return (
            f"no such device: is the board plugged in, and is [boards.{board.name}] port right?"
            " (ls /dev/serial/by-id/)"
        )
    if code == errno.EACCES:
        return (
            "permission denied: add the user to the dialout group (sudo usermod -aG dialout"
            " $USER, then log in again); or in use by a running station?"
        )
    reason = os.strerror(code) if isinstance(code, int) else str(exc)
    return f"cannot open ({reason}): in use by a running station? (stop it and run doctor again)"


def _strip_board(text: str, name: str) -> str:
    prefix = f"board {name}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def station_holder(data_dir: Path, proc_locks: Path = PROC_LOCKS) -> int | None:
    """The pid of the rig holding `data_dir`'s station lock, from the kernel's lock table
    (the lock file is only stat'ed, never opened: doctor must not take or touch it). None when
    nobody holds it, or when this cannot be told (no /proc/locks)."""
    try:
        st = (data_dir / LOCK_NAME).stat()
        table = proc_locks.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fallback: int | None = None
    for line in table.splitlines():
        words = line.split()
        if len(words) < 6 or words[1] != "FLOCK":  # "->" lines are waiters, not holders
            continue
        device = words[5].split(":")
        if len(device) != 3 or not device[2].isdigit() or int(device[2]) != st.st_ino:
            continue
        try:
            major, minor = int(device[0], 16), int(device[1], 16)
        except ValueError:
            continue
        if not words[4].isdigit():
            continue
        if (major, minor) == (os.major(st.st_dev), os.minor(st.st_dev)):
            return int(words[4])
        # Some filesystems (btrfs subvolumes, overlays) show another device number here than
        # stat does: the inode alone is taken then. Wrongly seeing a station only skips a board.
        fallback = fallback or int(words[4])
    return fallback


def port_users(port: str, proc: Path = PROC) -> list[tuple[int, str]]:
    """(pid, command) of the other processes that have the serial device `port` open (those
    whose /proc/PID/fd this user may read: all of them as root; ModemManager shows here too).
    Empty for a pyserial URL that is no device."""
    if "://" in port:
        return []
    target = os.path.realpath(port)
    me = os.getpid()
    found = []
    try:
        pids = [p for p in proc.iterdir() if p.name.isdigit() and int(p.name) != me]
    except OSError:
        return []
    for pid in pids:
        try:
            fds = list((pid / "fd").iterdir())
        except OSError:
            continue  # another user's process, or gone
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    found.append((int(pid.name), _command(pid)))
                    break
            except OSError:
                continue
    return sorted(found)


def _command(pid: Path) -> str:
    try:
        return (pid / "comm").read_text(encoding="utf-8", errors="replace").strip() or "?"
    except OSError:
        return "?"


# -- 4. the PoE switches ----------------------------------------------------------------------

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)


def switch_bays(config: RigConfig) -> dict[str, list[tuple[str, SwitchPort]]]:
    """Per `[switches.NAME]`, the bays its ports power (bay name, port)."""
    used: dict[str, list[tuple[str, SwitchPort]]] = {name: [] for name in config.switches}
    for bay in config.bays:
        if isinstance(bay.power, SwitchPort):
            used.setdefault(bay.power.switch, []).append((bay.name, bay.power))
    return used


def check_switch(switch: SwitchConfig, bays: Sequence[tuple[str, SwitchPort]] = ()) -> Check:
    """The agent answers one GET (sysDescr), then the PoE row of each port a bay uses (admin
    flag, detection status). Only GETs: nothing is switched. The community and keys are never
    in the line or the details (`Credentials.describe` names the version and user only)."""
    from rig.network.snmp import SnmpError  # pysnmp: loaded only when a switch is configured

    where = f"switch {switch.name} ({switch.host}:{switch.port})"
    with SwitchPool({switch.name: switch}) as pool:
        client = pool.client(switch.name)
        auth = client.credentials.describe()
        details: dict[str, Any] = {
            "switch": switch.name,
            "agent": client.where,
            "auth": auth,
            "vendor": switch.vendor,
        }
        try:
            descr = client.get([SYS_DESCR])[SYS_DESCR]
        except SnmpError as exc:
            message = f"{where}: {_strip_switch(str(exc), switch.name)}"
            return Check("switch", Status.FAIL, message, details)
        text = descr.decode("utf-8", "replace") if isinstance(descr, bytes) else str(descr or "")
        details["sys_descr"] = text.strip()
        try:
            poe = pool.poe(switch.name)
        except SnmpError as exc:  # a vendor the rig does not speak yet
            message = f"{where}: answers, but {_strip_switch(str(exc), switch.name)}"
            return Check("switch", Status.FAIL, message, details)
        ports: list[dict[str, Any]] = []
        details["ports"] = ports
        seen: list[str] = []
        off: list[str] = []
        for bay, port in bays:
            at = f"port {port.port if port.group == 1 else f'{port.group}/{port.port}'}"
            try:
                state = poe.state(port.group, port.port)
            except SnmpError as exc:
                reason = _strip_switch(str(exc), switch.name)
                reason = reason.removeprefix(f"{switch.name} {at}: ")
                message = f"{where}: {at} (bay {bay}): {reason}"
                return Check("switch", Status.FAIL, message, details)
            ports.append(
                {
                    "bay": bay,
                    "group": port.group,
                    "port": port.port,
                    "admin_on": state.admin_on,
                    "detection": state.detection,
                    "power_class": state.power_class,
                }
            )
            seen.append(
                f"{at} (bay {bay}) admin {'on' if state.admin_on else 'OFF'}, {state.detection}"
            )
            if not state.admin_on:
                off.append(f"{at} (bay {bay})")
    summary = "; ".join(seen) if seen else "answers; no bay is powered by it"
    message = f"{where}: {summary}"
    if off:
        message += (
            f": PoE disabled on {', '.join(off)}: a running station mid-cut, or left cut"
            " (the next rig command enables it)"
        )
        return Check("switch", Status.WARN, message, details)
    return Check("switch", Status.PASS, message, details)


def _strip_switch(text: str, name: str) -> str:
    return text.removeprefix(f"switch {name}: ")


# -- 4b. the fleet servers -------------------------------------------------------------------

#: libpq's connect_timeout has a floor of 2 s.
FLEET_TIMEOUT_S = 3.0


def check_fleet(
    config: RigConfig, data_dir: Path, *, timeout_s: float = FLEET_TIMEOUT_S
) -> list[Check]:
    """`[fleet]`: the PostgreSQL (reachable, the `rig` schema's version) with this rig's outbox
    backlog, and the MQTT broker (connect, disconnect). SKIP lines for what is not set."""
    fleet = config.fleet
    if not fleet.enabled:
        message = "fleet: not configured (no [fleet]): records stay in this rig's SQLite file"
        return [Check("fleet", Status.SKIP, message)]
    checks = []
    postgres = fleet.postgres
    if postgres is None:
        checks.append(Check("fleet", Status.SKIP, "fleet database: not configured"))
    else:
        checks.append(_guarded("fleet", lambda: check_fleet_db(postgres, data_dir, timeout_s)))
    if fleet.mqtt is None:
        checks.append(Check("fleet", Status.SKIP, "fleet MQTT: not configured"))
    else:
        mqtt = fleet.mqtt
        checks.append(
            _guarded("fleet", lambda: check_fleet_mqtt(mqtt, config.station.name, timeout_s))
        )
    return checks


def outbox_backlog(data_dir: Path) -> tuple[int, float | None] | None:
    """What waits in the records' outbox (read-only: the file is opened mode=ro, so it is
    never made). None with no records yet."""
    import sqlite3

    path = data_dir / DB_NAME
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    try:
        row = db.execute("SELECT count(*), min(queued_wall) FROM outbox").fetchone()
    finally:
        db.close()
    return int(row[0]), row[1]


def _db_label(conninfo: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(conninfo)
    if "service" in params and "host" not in params:
        return f"service={params['service']}"
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    db = f"/{params['dbname']}" if params.get("dbname") else ""
    return f"{user}{params.get('host', 'localhost')}{port}{db}"


def check_fleet_db(
    settings: PostgresSettings,
    data_dir: Path,
    timeout_s: float = FLEET_TIMEOUT_S,
    now: Callable[[], float] = time.time,
) -> Check:
    import psycopg

    from rig.fleet.schema import VERSION
    from rig.fleet.sender import why

    where = f"fleet database {_db_label(settings.conninfo)}"
    details: dict[str, Any] = {"database": _db_label(settings.conninfo), "rig_schema": VERSION}
    try:
        backlog = outbox_backlog(data_dir)
    except Exception as exc:  # sqlite3.Error: an old or damaged records file
        backlog, outbox = None, f"outbox not read ({exc})"
    else:
        if backlog is None:
            outbox = "no records yet"
        else:
            pending, oldest = backlog
            details.update(outbox_pending=pending, outbox_oldest_wall=oldest)
            age = f" (oldest {_age(now() - oldest)})" if pending and oldest is not None else ""
            outbox = f"outbox {pending} waiting{age}"
    try:
        with psycopg.connect(
            settings.conninfo,
            connect_timeout=max(2, round(timeout_s)),
            application_name="rig doctor",
            autocommit=True,
            **settings.connect_kwargs(),
        ) as conn:
            conn.execute("SET default_transaction_read_only = on")  # doctor only reads
            row = conn.execute("SELECT to_regclass('rig.schema_version')").fetchone()
            version: int | None = None
            if row is not None and row[0] is not None:
                got = conn.execute("SELECT max(version) FROM rig.schema_version").fetchone()
                version = int(got[0]) if got and got[0] is not None else 0
    except ConfigError as exc:
        return Check("fleet", Status.FAIL, f"{where}: {exc}; {outbox}", details)
    except psycopg.Error as exc:
        message = f"{where}: unreachable ({why(exc)}); {outbox}"
        return Check("fleet", Status.FAIL, message, details)
    details["schema"] = version
    if version is None or version == 0:
        schema = "no rig schema yet: it will be created at the first upload"
    elif version > VERSION:
        message = f"{where}: schema {version}, this rig knows {VERSION}: upgrade this rig; {outbox}"
        return Check("fleet", Status.FAIL, message, details)
    elif version < VERSION:
        schema = f"rig schema {version}: migrated to {VERSION} at the first upload"
    else:
        schema = f"rig schema {version}"
    return Check("fleet", Status.PASS, f"{where}: reachable, {schema}; {outbox}", details)


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def check_fleet_mqtt(
    settings: MqttSettings, station: str, timeout_s: float = FLEET_TIMEOUT_S
) -> Check:
    """Connect and disconnect, as a client of its own ("rig-doctor-STATION-PID"): the
    station's client id is "rig-STATION", and a second client with it would throw the
    station's session off the broker and fire its last will. No will is set here."""
    from rig.fleet.live import make_client

    where = f"fleet MQTT {'mqtts' if settings.tls else 'mqtt'}://{settings.host}:{settings.port}"
    details: dict[str, Any] = {"broker": f"{settings.host}:{settings.port}", "tls": settings.tls}
    if settings.username is not None:
        details["username"] = settings.username
    try:
        client = make_client(settings, client_id=f"rig-doctor-{station}-{os.getpid()}")
    except ConfigError as exc:
        return Check("fleet", Status.FAIL, f"{where}: {exc}", details)
    answer: list[Any] = []
    client.on_connect = lambda c, userdata, flags, reason, props: answer.append(reason)
    client.connect_timeout = timeout_s
    deadline = time.monotonic() + timeout_s
    try:
        client.connect(settings.host, settings.port, keepalive=max(5, round(timeout_s) * 2))
        while not answer and time.monotonic() < deadline:
            client.loop(timeout=0.1)
    except OSError as exc:  # refused, unreachable, TLS (ssl.SSLError is an OSError)
        reason = exc.strerror or str(exc) or type(exc).__name__
        return Check("fleet", Status.FAIL, f"{where}: unreachable ({reason})", details)
    finally:
        # DISCONNECT: a clean goodbye (no will is set anyway); the loop sends it and closes.
        with contextlib.suppress(Exception):
            client.disconnect()
            client.loop(timeout=0.1)
    if not answer:
        message = f"{where}: no CONNACK within {timeout_s:g} s (is it an MQTT broker?)"
        return Check("fleet", Status.FAIL, message, details)
    if answer[0].is_failure:
        message = f"{where}: refused the connection ({answer[0]}): check mqtt_username and"
        message += " the password's environment variable"
        return Check("fleet", Status.FAIL, message, details)
    return Check("fleet", Status.PASS, f"{where}: connected and disconnected", details)


# -- 5. the camera NIC and SADP --------------------------------------------------------------


def check_interface(name: str, sysfs_net: Path = SYSFS_NET) -> Check:
    """The NIC `sadp_interface` names exists and is up (its sysfs operstate)."""
    details: dict[str, Any] = {"interface": name}
    where = f"camera NIC {name}"
    node = sysfs_net / name
    if "/" in name or not node.is_dir():
        try:
            known = ", ".join(sorted(p.name for p in sysfs_net.iterdir())) or "none"
        except OSError:
            known = "?"
        message = (
            f"{where}: no such interface (interfaces: {known}): fix sadp_interface in [network]"
        )
        return Check("nic", Status.FAIL, message, details)
    try:
        state = (node / "operstate").read_text(encoding="ascii").strip()
    except OSError as exc:
        message = (
            f"{where}: cannot read its state ({exc.strerror or exc}): check `ip link show {name}`"
        )
        return Check("nic", Status.WARN, message, details)
    details["operstate"] = state
    if state == "up":
        return Check("nic", Status.PASS, f"{where}: up", details)
    if state == "unknown":
        message = f"{where}: state unknown (the driver does not say): check `ip link show {name}`"
        return Check("nic", Status.WARN, message, details)
    message = (
        f"{where}: {state}: plug in the bench cable and power the PoE switch, or bring it up"
        f" (`sudo ip link set {name} up`)"
    )
    return Check("nic", Status.FAIL, message, details)


def check_sadp(network: NetworkConfig, window_s: float = SADP_WINDOW_S) -> Check:
    """One SADP probe; how many units answered. None answering is a warning (an empty bench)."""
    host, port = network.sadp_target
    via = f" on {network.sadp_interface}" if network.sadp_interface else ""
    via += f" from {network.sadp_source}" if network.sadp_source else ""
    where = f"SADP to {host}:{port}{via}"
    details: dict[str, Any] = {"target": f"{host}:{port}"}
    try:
        with SadpClient(
            network.sadp_target, source=network.sadp_source, interface=network.sadp_interface
        ) as client:
            replies = sorted(client.probe(window_s), key=lambda r: r.mac)
    except (NetworkError, OSError) as exc:
        message = f"{where}: the probe cannot be sent ({exc}): check [network] in the config"
        return Check("sadp", Status.FAIL, message, details)
    details["units"] = [_unit(r) for r in replies]
    if not replies:
        message = (
            f"{where}: no unit answered within {window_s:g} s: fine on an empty bench; else"
            " check the camera's cable, its PoE power and the camera NIC"
        )
        return Check("sadp", Status.WARN, message, details)
    shown = ", ".join(f"{r.model or '?'} {r.mac}" for r in replies[:3])
    more = f" and {len(replies) - 3} more" if len(replies) > 3 else ""
    message = f"{where}: {len(replies)} unit(s) answered ({shown}{more})"
    return Check("sadp", Status.PASS, message, details)


def _unit(reply: SadpReply) -> dict[str, object]:
    return {"mac": reply.mac, "serial": reply.device_sn, "model": reply.model, "ip": reply.ipv4}


# -- 6. the records directory ----------------------------------------------------------------


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


def check_records(
    data_dir: Path,
    *,
    min_free_bytes: int = MIN_FREE_BYTES,
    disk_usage: Callable[[Path], Any] = shutil.disk_usage,
) -> Check:
    """The records directory exists (made if not), takes a file, and has room."""
    where = f"records {data_dir}"
    details: dict[str, Any] = {"path": str(data_dir)}
    fix = "set [station] data_dir or --data-dir to a writable directory"
    if data_dir.exists() and not data_dir.is_dir():
        message = f"{where}: not a directory (a file is in the way): move it, or {fix}"
        return Check("records", Status.FAIL, message, details)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".rig-doctor-") as probe:
            probe.write(b"rig doctor\n")
            probe.flush()
            os.fsync(probe.fileno())
        free = int(disk_usage(data_dir).free)
    except OSError as exc:
        message = f"{where}: cannot write ({exc.strerror or exc}): {fix}"
        return Check("records", Status.FAIL, message, details)
    details["free_bytes"] = free
    if free < min_free_bytes:
        message = (
            f"{where}: only {_size(free)} free, rig wants at least {_size(min_free_bytes)}:"
            " free some space on that disk"
        )
        return Check("records", Status.FAIL, message, details)
    on_record = "" if (data_dir / DB_NAME).exists() else ", no records yet"
    return Check(
        "records", Status.PASS, f"{where}: writable, {_size(free)} free{on_record}", details
    )


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


# -- 7. the clock ----------------------------------------------------------------------------


class ClockState(NamedTuple):
    synchronised: bool | None  # None: cannot tell
    source: str  # how it was told


def clock_state(
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    which: Callable[[str], str | None] = shutil.which,
    flag: Path = TIMESYNC_FLAG,
) -> ClockState:
    """timedatectl's NTPSynchronized, else systemd-timesyncd's flag file, else cannot tell."""
    tool = which("timedatectl")
    if tool is not None:
        try:
            done = run(
                [tool, "show", "-p", "NTPSynchronized", "--value"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            done = None
        answer = done.stdout.strip() if done is not None and done.returncode == 0 else ""
        if answer in ("yes", "no"):
            return ClockState(answer == "yes", "timedatectl")
    if flag.exists():
        return ClockState(True, str(flag))
    if flag.parent.is_dir():  # timesyncd runs, and has not synchronised
        return ClockState(False, str(flag))
    return ClockState(None, "no timedatectl answer, no systemd-timesyncd")


def check_clock(
    probe: Callable[[], ClockState] = clock_state, now: Callable[[], float] = time.time
) -> Check:
    state = probe()
    reads = datetime.fromtimestamp(now(), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    details: dict[str, Any] = {"synchronised": state.synchronised, "source": state.source}
    if state.synchronised:
        return Check(
            "clock", Status.PASS, f"clock: synchronised ({state.source}), {reads}", details
        )
    if state.synchronised is None:
        message = (
            f"clock: cannot tell whether it is synchronised ({state.source}); it reads {reads}:"
            " check it against a watch (certificates and records carry this time)"
        )
        return Check("clock", Status.WARN, message, details)
    message = (
        f"clock: not synchronised ({state.source}), reads {reads}: certificates and records"
        " would carry a wrong time: give the Pi a network with NTP (`timedatectl status`)"
    )
    return Check("clock", Status.FAIL, message, details)


# -- 8. the solenoids' rest ------------------------------------------------------------------


def check_rests(
    config: RigConfig, data_dir: Path, now: Callable[[], float] = time.time
) -> list[Check]:
    """What the records say is left of each bay's solenoid rest (informational)."""
    if not config.bays:
        return []
    lasts: dict[str, tuple[float, float] | None] = {b.name: None for b in config.bays}
    if (data_dir / DB_NAME).exists():  # no records: nothing pressed yet, and none are made
        try:
            with RecordStore(data_dir) as store:
                lasts = {b.name: store.last_press(b.name) for b in config.bays}
        except RigError as exc:
            message = f"solenoid rests: the records cannot be read ({exc})"
            return [Check("rest", Status.WARN, message)]
    checks = []
    wall = now()
    for bay, last in lasts.items():
        remaining = 0.0 if last is None else max(0.0, last[0] + last[1] - wall)
        details = {"bay": bay, "rest_s": round(remaining, 1)}
        if remaining > 0:
            message = f"bay {bay}: solenoid resting {remaining:.1f} s more (from the last press)"
        else:
            message = f"bay {bay}: solenoid rested"
        checks.append(Check("rest", Status.PASS, message, details))
    return checks


# -- all of them -----------------------------------------------------------------------------


def iter_checks(
    config_path: Path,
    data_dir: str | Path | None = None,
    *,
    pin_factory: Any = None,
    sysfs_net: Path = SYSFS_NET,
    clock_probe: Callable[[], ClockState] | None = None,
    now: Callable[[], float] = time.time,
    disk_usage: Callable[[Path], Any] | None = None,
    min_free_bytes: int = MIN_FREE_BYTES,
    sadp_window_s: float = SADP_WINDOW_S,
    board_timeout_s: float = ANSWER_TIMEOUT_S,
    holder: Callable[[Path], int | None] | None = None,
    users_of: Callable[[str], list[tuple[int, str]]] | None = None,
) -> Iterator[Check]:
    """Every check, in order, each as soon as it is done (a board or a probe takes a moment).

    Without a valid config only the records (when `data_dir` is given) and the clock are
    checked; one SKIP line names the rest. The edges left None are this module's own
    (`clock_state`, `shutil.disk_usage`, `station_holder`, `port_users`), looked up when
    called."""
    clock_probe = clock_probe or clock_state
    disk_usage = disk_usage or shutil.disk_usage
    holder = holder or station_holder
    users_of = users_of or port_users
    explicit_dir = Path(data_dir).expanduser() if data_dir else None
    config_check, config = check_config(config_path)
    yield config_check

    def records(where: Path) -> Check:
        return _guarded(
            "records",
            lambda: check_records(where, min_free_bytes=min_free_bytes, disk_usage=disk_usage),
        )

    def clock() -> Check:
        return _guarded("clock", lambda: check_clock(clock_probe, now))

    if config is None:
        skipped = ["pins", "boards", "camera NIC", "SADP", "solenoid rests"]
        if explicit_dir is None:
            skipped.append("records")
        message = f"{', '.join(skipped)}: not checked until the config loads"
        yield Check("skipped", Status.SKIP, message, {"checks": skipped})
        if explicit_dir is not None:
            yield records(explicit_dir)
        yield clock()
        return

    records_dir = resolve_data_dir(str(explicit_dir) if explicit_dir else None, config)
    try:
        pins = check_pins(config, pin_factory)
    except Exception as exc:
        pins = _bug("pins", exc)
    if pins is not None:
        yield pins

    used = board_channels(config)
    station_pid = holder(records_dir) if config.boards else None
    for board in config.boards.values():
        try:
            yield check_board(
                board,
                used.get(board.name),
                answer_timeout_s=board_timeout_s,
                station_pid=station_pid,
                data_dir=records_dir,
                users=() if station_pid is not None else users_of(board.port),
            )
        except Exception as exc:
            yield _bug("board", exc)

    for name, switch_used in switch_bays(config).items():
        switch = config.switches.get(name)
        if switch is not None:
            yield _guarded("switch", partial(check_switch, switch, switch_used))

    iface = config.network.sadp_interface
    nic = None if iface is None else _guarded("nic", lambda: check_interface(iface, sysfs_net))
    if nic is not None:
        yield nic
    if nic is not None and nic.status is Status.FAIL:
        yield Check("sadp", Status.SKIP, f"SADP: not probed: the camera NIC {iface} is not up")
    else:
        yield _guarded("sadp", lambda: check_sadp(config.network, sadp_window_s))

    records_check = records(records_dir)
    yield records_check
    yield clock()
    if records_check.status is Status.FAIL:
        if config.bays:
            yield Check("rest", Status.SKIP, "solenoid rests: not read: the records are not usable")
    else:
        try:
            rests = check_rests(config, records_dir, now)
        except Exception as exc:
            rests = [_bug("rest", exc)]
        yield from rests
    yield from _guarded_all("fleet", lambda: check_fleet(config, records_dir))


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    """Run one check; an exception doctor did not expect is that check's FAIL, not a crash."""
    try:
        return check()
    except Exception as exc:
        return _bug(name, exc)


def _guarded_all(name: str, checks: Callable[[], list[Check]]) -> list[Check]:
    try:
        return checks()
    except Exception as exc:
        return [_bug(name, exc)]


def _bug(name: str, exc: Exception) -> Check:
    return Check(name, Status.FAIL, f"{name}: doctor itself failed: {exc!r} (a bug: report it)")


def run_checks(config_path: Path, data_dir: str | Path | None = None, **edges: Any) -> list[Check]:
    """Every check, in order (`iter_checks`' keywords inject the edges)."""
    return list(iter_checks(config_path, data_dir, **edges))
