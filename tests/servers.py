"""Real servers for the fleet tests, started on 127.0.0.1 ports of their own and stopped after.

PostgreSQL refuses to run as root, so as root its cluster is made and run by the `postgres`
user (`runuser -u postgres -- initdb / pg_ctl`), in a temporary directory, with a password
(scram-sha-256) so that a rig which does not pass its password is refused, as in a lab. The
Debian package's own cluster and service are never used. Mosquitto 2 with no listener
configured binds loopback only and lets anonymous clients in: `mosquitto -p PORT`.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_USER = "rig"
PG_PASSWORD = "bench-secret-Zq7"  # only ever in the environment of the rig under test


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def _pg_bin(name: str) -> str:
    """Debian keeps the server's programs in /usr/lib/postgresql/<version>/bin, off the PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path is None:
        raise RuntimeError(f"{name}: PostgreSQL is not installed (make test installs it)")
    return on_path


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    """One PostgreSQL cluster of a test session, on a port of 127.0.0.1."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rig-pg-")))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """The rig's `[fleet] postgres`: no password in it (it comes from the environment)."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def init(self) -> PostgresServer:
        os.chmod(self.root, 0o777)  # the postgres user writes its cluster and socket here
        pwfile = self.root / "pw"
        pwfile.write_text(PG_PASSWORD + "\n")
        os.chmod(pwfile, 0o644)
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    PG_USER,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        return self.start()

    def start(self) -> PostgresServer:
        """Run the postmaster as a child of ours (through runuser), so that killing it leaves
        no zombie for a restart to trip on. A restart right after a kill may find the dead
        server's backends still attached to its shared memory: it is tried again until they
        are gone."""
        deadline = time.monotonic() + 60
        while True:
            self.proc = subprocess.Popen(
                _as_postgres(
                    [
                        _pg_bin("postgres"),
                        "-D",
                        str(self.data),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        f"port={self.port}",
                        "-k",
                        str(self.root),
                        "-c",
                        "fsync=off",
                        "-c",
                        "max_connections=40",
                    ]
                ),
                stdout=subprocess.DEVNULL,
                stderr=(self.root / "log").open("ab"),
            )
            while time.monotonic() < deadline and self.proc.poll() is None:
                ready = subprocess.run(
                    [_pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                    check=False,
                )
                if ready.returncode == 0:
                    return self
                time.sleep(0.1)
            if time.monotonic() >= deadline:
                raise RuntimeError(f"PostgreSQL did not start on {self.port}: see {self.root}/log")
            time.sleep(0.3)

    def kill(self) -> None:
        """The server dies at once (SIGKILL of the postmaster: no shutdown, no goodbye to the
        clients), as a power cut of the lab's server would do it."""
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
            self.proc = None

    def _signal(self, signum: int) -> None:
        """To the postmaster itself: runuser, its parent, passes no signal on."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signum)

    def stop(self) -> None:
        if self.proc is not None:
            self._signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class MosquittoBroker:
    """`mosquitto -p PORT`: loopback only, anonymous clients (Mosquitto 2's local-only mode);
    or, with `config`, a broker set up by that file (a TLS listener, say)."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    config: Path | None = None
    root: Path | None = None  # its files, removed at close

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> MosquittoBroker:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        args = ["-c", str(self.config)] if self.config else ["-p", str(self.port)]
        self.proc = subprocess.Popen(
            [binary, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not _wait_port(self.port):
            raise RuntimeError(f"mosquitto did not listen on {self.port}")
        return self

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def tls_broker(*, user: str, password: str) -> tuple[MosquittoBroker, Path]:
    """A Mosquitto with a TLS listener on 127.0.0.1 (a certificate for IP 127.0.0.1 from a CA
    made here) that lets in `user` with `password` only; and the CA's file, for the client.
    In a directory of its own that Mosquitto, dropping root for its own user, can read."""
    root = Path(tempfile.mkdtemp(prefix="rig-mqtt-"))

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=root, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "2", "-subj", "/CN=rig test lab CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1")  # fmt: skip
    (root / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2",
            "-extfile", "san.ext")  # fmt: skip
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(root / "passwords"), user, password],
        check=True,
        capture_output=True,
    )
    port = free_port()
    config = root / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"cafile {root / 'ca.crt'}\ncertfile {root / 'server.crt'}\n"
        f"keyfile {root / 'server.key'}\n"
        f"allow_anonymous false\npassword_file {root / 'passwords'}\n"
    )
    for path in [root, *root.iterdir()]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return MosquittoBroker(port=port, config=config, root=root), root / "ca.crt"
