"""The software factory reset (DESIGN.md §1 `software`): no bay, no solenoid, the password known.

A unit is found by SADP with the MAC or serial the operator gave; over ISAPI one digest login
to `GET /ISAPI/System/deviceInfo` must show that very unit before
`PUT /ISAPI/System/factoryReset?mode=full|basic` is sent, then `PUT /ISAPI/System/reboot` (the
camera answers statusCode 7 "Reboot Required", and the vendor's client reboots whatever it
says).
The proof is the hard reset's: the same MAC drops off SADP (the reboot), comes back and stays,
and `NetworkVerifier.judge` decides the factory state (full); a basic restore must come back
with its network settings kept.

Lock-out safety: cameras lock the rig's IP after 7 failed logins, and the rig talks to many
units from one IP all day. Each request is one login (IsapiClient sends credentials exactly
once), a refused login ends the unit's job at once, and nothing is ever retried.

The password lives in a `Password`, whose repr hides it; it is revealed only where a request
is built, and never reaches a log, a record, an export or the output.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rig.clock import Clock
from rig.config import NetworkConfig
from rig.errors import Aborted, ConfigError, NetworkError, ParseError, UnitNotIdentified
from rig.jobs import JobReport
from rig.network.isapi import (
    DEVICE_INFO_PATH,
    STATUS_OK,
    STATUS_REBOOT_REQUIRED,
    DeviceInfo,
    Exchange,
    IsapiClient,
    LockInfo,
    ResponseStatus,
)
from rig.network.sadp import (
    SadpPoller,
    SadpReply,
    normalise_mac,
)
from rig.outcomes import Outcome
from rig.procedure import Plan, Recorder, Result
from rig.profiles import GENERIC
from rig.records.store import RecordStore
from rig.verify.base import Verdict
from rig.verify.network import IsapiFactory, NetworkVerifier

__all__ = [
    "BASIC",
    "FULL",
    "MODES",
    "Password",
    "SoftwareOptions",
    "SoftwareReset",
    "Target",
    "UsageError",
    "read_targets_csv",
]

log = logging.getLogger(__name__)

FULL, BASIC = "full", "basic"
MODES = (FULL, BASIC)
FACTORY_RESET_PATH = "/ISAPI/System/factoryReset?mode={mode}"
REBOOT_PATH = "/ISAPI/System/reboot"
# The bay of a software job when none is named: the unit is wherever the network reaches it.
NETWORK_BAY = "network"
# A stray keypress must not match the end of every serial on the network (as `rig reset`).
MIN_SERIAL_CHARS = 6
# A unit answers a SADP request within milliseconds; three seconds covers a busy segment.
RESTORE_WINDOW_S = 3.0
# A camera drops off the network within seconds of accepting a reboot (it stops its services
# first). One that still answers after a minute has not rebooted: the reset stays pending.
REBOOT_START_S = 60.0


class UsageError(ConfigError):
    """Bad command-line usage or input file (exit 2): one line naming what was wrong."""


class Password:
    """The admin password, kept out of every repr, str, log and record by construction.

    `reveal()` is called only where a request is built (the digest response, the SADP
    datagram), so a password can only leave the process inside those requests.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise UsageError("the password is empty")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Password(<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True)
class Target:
    """One unit the operator named: by MAC, by label serial, or both (then both must match)."""

    mac: str | None  # normalised: lower case with dashes
    serial: str | None  # as printed on the label: the end of SADP's DeviceSN
    # From a spreadsheet's password column; None: the shared password (RIG_PASSWORD / prompt).
    password: Password | None = field(default=None, repr=False, compare=False)
    source: str = "command line"  # where it was named, for messages ("units.csv line 3")

    @property
    def label(self) -> str:
        return " / ".join(x for x in (self.mac, self.serial) if x) or "?"


def check_serial(serial: str, where: str) -> str:
    value = serial.strip()
    if len(value) < MIN_SERIAL_CHARS:
        raise UsageError(f"{where}: {value!r} is too short to identify a unit")
    return value


def check_mac(mac: str, where: str) -> str:
    try:
        return normalise_mac(mac)
    except ParseError as exc:
        raise UsageError(f"{where}: {exc}") from None


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def check_user(user: str) -> str:
    # The user goes into a quoted digest parameter: a control character could only be a typo.
    if not user or _CONTROL_RE.search(user):
        raise UsageError(f"--user: {user!r} is not a user name")
    return user


# --- the spreadsheet of units ---------------------------------------------------------------


def _delimiter(first_line: str) -> str:
    # Spreadsheets saved in a comma-decimal locale use ";"; some labs paste tab-separated.
    for candidate in (",", ";", "\t"):
        if candidate in first_line:
            return candidate
    return ","


def read_targets_csv(path: Path) -> list[Target]:
    """The units of a lab's spreadsheet: a header row, then `mac` and/or `serial` per row.

    An optional `password` column gives a unit its own password (read here once, kept only in
    memory); other columns are ignored (labs keep notes beside the units). Raises UsageError
    naming the file, the line and the column; a password cell is never quoted in a message.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(text.partition("\n")[0])
    )
    targets: list[Target] = []
    seen: dict[tuple[str, str], int] = {}  # (column, unit) -> line it was first named on
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise UsageError(f"{path}: line 1: no header row (expected a mac or serial column)")
        columns = [h.strip().casefold() for h in header]
        for name in ("mac", "serial", "password"):
            if columns.count(name) > 1:
                raise UsageError(f"{path}: line 1, column {name}: named twice in the header")
        if "mac" not in columns and "serial" not in columns:
            raise UsageError(f"{path}: line 1: no mac or serial column in the header")
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank rows are what spreadsheets leave at the end
            if len(row) > len(columns):
                raise UsageError(
                    f"{path}: line {line}: {len(row)} fields, but the header has {len(columns)}"
                )
            cells = dict(zip(columns, (c.strip() for c in row), strict=False))
            targets.append(_target_from_row(path, line, cells, seen))
    except csv.Error as exc:
        raise UsageError(f"{path}: line {reader.line_num}: not valid CSV: {exc}") from None
    if not targets:
        raise UsageError(f"{path}: no units listed under the header")
    return targets


def _target_from_row(
    path: Path, line: int, cells: dict[str, str], seen: dict[tuple[str, str], int]
) -> Target:
    mac_text, serial_text = cells.get("mac", ""), cells.get("serial", "")
    if not mac_text and not serial_text:
        column = "mac" if "mac" in cells else "serial"
        raise UsageError(f"{path}: line {line}, column {column}: empty (name the unit)")
    mac = check_mac(mac_text, f"{path}: line {line}, column mac") if mac_text else None
    serial = (
        check_serial(serial_text, f"{path}: line {line}, column serial") if serial_text else None
    )
    for column, key in (("mac", mac), ("serial", serial.upper() if serial else None)):
        if key is None:
            continue
        if (column, key) in seen:
            first = seen[column, key]
            raise UsageError(f"{path}: line {line}, column {column}: same unit as line {first}")
        seen[column, key] = line
    password_text = cells.get("password", "")
    return Target(
        mac=mac,
        serial=serial,
        password=Password(password_text) if password_text else None,
        source=f"{path.name} line {line}",
    )


# --- the proof: the hard reset's verifier, identity by what the operator gave ---------------


class SoftwareVerifier(NetworkVerifier):
    """NetworkVerifier for a unit that reboots itself: found by the MAC and/or serial the
    operator gave, the reboot standing in for the power cut, the same wait_back and judge."""

    def find(self, *, mac: str | None, serial: str | None) -> SadpReply | None:
        """The unit answering SADP with this MAC and/or serial; None if nobody does.

        Raises UnitNotIdentified if the serial matches several units, or if the MAC answers
        with another serial than the one given.
        """
        poller = self._poller
        self._scanned = serial
        # One full poll cycle (plus a miss) so everything up has had the chance to answer.
        start_polls = poller.polls
        poller.wait_for(
            lambda _: poller.polls >= start_polls + 2, poller.poll_s * 4 + poller.window_s
        )
        self._before = poller.present()
        self._note("present_before_reset", macs=sorted(self._before))
        if mac is not None:
            reply = self._before.get(mac)
            if reply is not None and serial is not None and not reply.matches_serial(serial):
                raise UnitNotIdentified(
                    f"MAC {mac} answers with serial {reply.device_sn}, not {serial}: "
                    "nothing was reset"
                )
            method = "MAC given" if serial is None else "MAC and serial given"
        else:
            assert serial is not None
            matches = [r for r in self._before.values() if r.matches_serial(serial)]
            if len(matches) > 1:
                raise UnitNotIdentified(
                    f"serial {serial!r} matches {len(matches)} units on the network: "
                    "give --mac; nothing was reset"
                )
            reply = matches[0] if matches else None
            method = "serial given"
        if reply is None:
            self._note("identity", method=method, found=False)
            return None
        self._mac, self._method = reply.mac, method
        self._adopt(reply)
        self._note("identity", method=method, mac=reply.mac, sadp_xml=reply.xml)
        return reply

    def wait_rebooting(self, bound_s: float) -> bool:
        """After the reboot was accepted: True once the unit has dropped off SADP.

        The moment plays the power cut's part, so wait_back() then waits for the unit to come
        back (not for it to go, as after a running hold).
        """
        mac = self._mac
        assert mac is not None, "find() the unit first"
        self._cut_at = self._now()
        gone = self._poller.wait_for(lambda present: mac not in present, bound_s)
        self._note("rebooting", mac=mac, vanished=gone, bound_s=round(bound_s, 3))
        return gone

    def judge_basic(self, before: SadpReply) -> Verdict:
        """A basic restore keeps the network settings and the activation: nothing on the wire
        shows it happened but the reboot, so the check is that the unit came back as it was."""
        reply = self._back or self._ours(self._poller.present())
        if reply is None:
            return Verdict(Outcome.NO_RESPONSE, "gone again before it could be checked")
        self._adopt(reply)
        self._note("sadp_after", sadp_xml=reply.xml)
        if before.device_sn and reply.device_sn != before.device_sn:
            return Verdict(
                Outcome.WRONG_DEVICE,
                f"MAC {reply.mac} came back with serial {reply.device_sn}, not {before.device_sn}",
            )
        settings_before, settings_after = _network_settings(before), _network_settings(reply)
        evidence: dict[str, Any] = {
            "identity": self._method,
            "network_before": settings_before,
            "network_after": settings_after,
            "activated_after": reply.activated,
        }
        changed = [k for k in settings_before if settings_before[k] != settings_after[k]]
        if changed:
            detail = ", ".join(f"{k} {settings_before[k]} -> {settings_after[k]}" for k in changed)
            return Verdict(
                Outcome.NOT_RESET,
                f"a basic restore must keep the network settings, but {detail}",
                evidence,
            )
        if reply.activated is False:
            # Lost its activation: more than the basic restore that was asked for happened.
            return Verdict(
                Outcome.NOT_RESET, "came back inactive: not the basic restore asked for", evidence
            )
        return Verdict(Outcome.RESET_VERIFIED, "restored (basic): network settings kept", evidence)


def _raw_field(reply: SadpReply, name: str) -> str | None:
    # Devices spell these IPv4SubnetMask or Ipv4SubnetMask: compare names without case.
    wanted = name.casefold()
    return next((v for k, v in reply.raw.items() if k.casefold() == wanted), None)


def _network_settings(reply: SadpReply) -> dict[str, Any]:
    return {
        "IPv4Address": reply.ipv4,
        "IPv4SubnetMask": _raw_field(reply, "IPv4SubnetMask"),
        "IPv4Gateway": _raw_field(reply, "IPv4Gateway"),
        "DHCP": reply.dhcp,
        "HttpPort": reply.http_port,
    }


# --- one unit, one job ------------------------------------------------------------------------


@dataclass(frozen=True)
class SoftwareOptions:
    mode: str = FULL  # "full": back to the inactive factory state; "basic": keep network settings
    user: str = "admin"
    station: str = "rig"
    bay: str = NETWORK_BAY
    boot_timeout_s: float = 240.0

    @property
    def procedure(self) -> str:
        return f"software-{self.mode}"


StageListener = Callable[[str, str, float | None], None]  # (unit label, stage, deadline)


class _Stop(Exception):
    """Ends a unit's job early with a verdict (not an error of ours)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


class SoftwareReset:
    """Resets units one after another over one shared SADP poller; each unit is a job in the
    records, its steps committed as they end."""

    def __init__(
        self,
        options: SoftwareOptions,
        *,
        network: NetworkConfig,
        poller: SadpPoller,
        store: RecordStore,
        clock: Clock,
        isapi: IsapiFactory | None = None,
        on_stage: StageListener | None = None,
    ) -> None:
        if options.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {options.mode!r}")
        self.options = options
        self.network = network
        self.poller = poller
        self.store = store
        self.clock = clock
        self.isapi: IsapiFactory = isapi or (
            lambda host, port: IsapiClient(host, port, timeout_s=network.http_timeout_s)
        )
        self.on_stage = on_stage

    def reset(self, target: Target, password: Password) -> JobReport:
        options = self.options
        plan = Plan(
            procedure=options.procedure,
            off_s=0.0,  # no power cut and no press: the unit reboots itself
            hold_s=0.0,
            boot_timeout_s=options.boot_timeout_s,
            scanned_serial=target.serial,
        )
        job_id = self.store.start_job(
            station=options.station,
            bay=options.bay,
            profile=GENERIC,
            plan=plan,
            wall=self.clock.wall(),
        )
        job = _Job(self, job_id, target, password)
        result = job.run()
        self.store.finish_job(job_id, result, self.clock.wall())
        return JobReport(job_id, options.bay, result)


class _Job:
    def __init__(
        self, owner: SoftwareReset, job_id: int, target: Target, password: Password
    ) -> None:
        self.owner = owner
        self.options = owner.options
        self.job_id = job_id
        self.target = target
        self._password = password
        self.recorder = Recorder(owner.clock, lambda step: owner.store.add_step(job_id, step))
        self.verifier = SoftwareVerifier(
            owner.poller,
            settle_s=owner.network.settle_s,
            http_timeout_s=owner.network.http_timeout_s,
            isapi=owner.isapi,
        )
        # Set once the unit has accepted a reset it applies at its next start: an abort or a
        # refused reboot after that leaves the reset pending, and the reason must say so.
        self.pending = False

    def stage(self, name: str, deadline: float | None = None) -> None:
        if self.owner.on_stage is not None:
            self.owner.on_stage(self.target.label, name, deadline)

    def run(self) -> Result:
        try:
            verdict = self._attempt()
        except _Stop as stop:
            verdict = stop.verdict
        except UnitNotIdentified as exc:
            verdict = Verdict(Outcome.WRONG_DEVICE, str(exc))
        except NetworkError as exc:
            verdict = Verdict(Outcome.NO_RESPONSE, f"network error: {exc}")
        except (Aborted, KeyboardInterrupt) as exc:
            reason = str(exc) or "interrupted by Ctrl-C"
            if self.pending:
                reason += "; the reset was accepted and is pending until the unit restarts"
            verdict = Verdict(Outcome.ABORTED, reason)
        except Exception as exc:
            if isinstance(exc, OSError) and not isinstance(exc, NetworkError):
                raise  # the records (a full disk): the command stops, the CLI says why
            # A bug of ours must still end in an honest record. (No locals are logged.)
            log.debug("unexpected error\n%s", traceback.format_exc())
            verdict = Verdict(Outcome.ABORTED, f"internal error: {type(exc).__name__}: {exc}")
        return Result(
            outcome=verdict.outcome,
            reason=verdict.reason,
            unit=self.verifier.unit,
            hold_s=None,  # nothing was held: the unit reset itself
            steps=self.recorder.steps,
            evidence=self.verifier.evidence,
        )

    def _attempt(self) -> Verdict:
        before = self._find()
        if not before.ipv4 or not before.http_port:
            raise _Stop(
                Verdict(
                    Outcome.NO_RESPONSE,
                    "its SADP reply names no web address: nothing was reset",
                )
            )
        with self.owner.isapi(before.ipv4, before.http_port) as client:
            self._identify_login(client, before)
            if self._factory_reset(client):
                self._reboot(client)
        return self._verify(before)

    # -- find and identify -----------------------------------------------------------------

    def _find(self) -> SadpReply:
        target = self.target
        with self.recorder.step("find", mac=target.mac, serial=target.serial) as d:
            self.stage("finding the unit (SADP)")
            reply = self.verifier.find(mac=target.mac, serial=target.serial)
            d.update(self.verifier.unit.as_dict())
            d["found"] = reply is not None
        self.owner.store.set_unit(self.job_id, self.verifier.unit)
        if reply is None:
            raise _Stop(
                Verdict(
                    Outcome.NO_RESPONSE,
                    f"no unit with {self._named()} answered SADP: nothing was reset",
                )
            )
        if reply.activated is False:
            # Inactive units have no password to log in with.
            raise _Stop(
                Verdict(
                    Outcome.NOT_RESET,
                    "already inactive (factory state): no password to log in with; "
                    "nothing was sent",
                )
            )
        return reply

    def _named(self) -> str:
        parts = []
        if self.target.mac:
            parts.append(f"MAC {self.target.mac}")
        if self.target.serial:
            parts.append(f"serial {self.target.serial}")
        return " and ".join(parts)

    def _identify_login(self, client: IsapiClient, before: SadpReply) -> None:
        """The one login that proves the web answer comes from the unit SADP found: a reset
        camera shares 192.168.1.64 with others, so the address alone proves nothing."""
        user = self.options.user
        with self.recorder.step("identify_login", user=user, path=DEVICE_INFO_PATH) as d:
            self.stage("checking its identity (one login)")
            info, exchange, lock = client.device_info(user, self._password.reveal())
            d.update(exchange.as_dict())
            if lock is not None:
                d["lock"] = asdict(lock)
            if info is not None:
                d["device_info"] = {
                    "serial": info.serial,
                    "mac": info.mac,
                    "model": info.model,
                    "firmware": info.firmware,
                }
        refused = _refusal(exchange, lock, "deviceInfo")
        if refused is not None:
            raise _Stop(refused)
        if info is None:  # 200 with an unreadable body: the answer does not say who it is
            raise _Stop(
                Verdict(
                    Outcome.WRONG_DEVICE,
                    f"the web answer does not say which unit it is ({exchange.error}): "
                    "nothing was reset",
                )
            )
        mismatch = _identity_mismatch(info, before, self.target)
        if mismatch is not None:
            raise _Stop(Verdict(Outcome.WRONG_DEVICE, f"{mismatch}: nothing was reset"))

    # -- the reset ---------------------------------------------------------------------------

    def _factory_reset(self, client: IsapiClient) -> bool:
        """PUT factoryReset; True if the unit accepted it and should now be rebooted."""
        path = FACTORY_RESET_PATH.format(mode=self.options.mode)
        with self.recorder.step("factory_reset", mode=self.options.mode, path=path) as d:
            self.stage(f"factory reset ({self.options.mode})")
            status, exchange, lock = client.put(path, self.options.user, self._password.reveal())
            d.update(exchange.as_dict())
            d.update(_status_details(status, lock))
        if exchange.status is None:
            # No answer: it may have taken the request and be restarting already. Another
            # request now could only be a second login; what comes back will tell.
            self.pending = True
            return False
        refused = _refusal(exchange, lock, "factoryReset")
        if refused is None and status is not None and not _accepted(status):
            refused = Verdict(
                Outcome.NOT_RESET,
                f"factoryReset answered statusCode {status.status_code} "
                f"({status.status_string}): nothing was reset",
            )
        if refused is not None:
            raise _Stop(refused)
        self.pending = True
        return True

    def _reboot(self, client: IsapiClient) -> None:
        # statusCode 7 says "Reboot Required"; the vendor's client reboots whatever the answer
        # said, and so do we: the reset is applied at the next start, never before.
        with self.recorder.step("reboot", path=REBOOT_PATH) as d:
            self.stage("rebooting it")
            status, exchange, lock = client.put(
                REBOOT_PATH, self.options.user, self._password.reveal()
            )
            d.update(exchange.as_dict())
            d.update(_status_details(status, lock))
        if exchange.status is None:
            return  # no answer: it may be going down already; the wait will tell
        refused = _refusal(exchange, lock, "reboot", pending=True)
        if refused is not None:
            raise _Stop(refused)

    # -- the proof ---------------------------------------------------------------------------

    def _verify(self, before: SadpReply) -> Verdict:
        timeout_s = self.options.boot_timeout_s
        poller = self.owner.poller
        # The bound covers a slow shutdown, and never less than the poller needs to see a
        # unit gone (misses_to_vanish silent polls plus the one in flight).
        bound_s = max(
            min(REBOOT_START_S, timeout_s),
            poller.poll_s * (poller.misses_to_vanish + 2) + poller.window_s,
        )
        with self.recorder.step("wait_down", bound_s=round(bound_s, 3)) as d:
            self.stage("waiting for it to go down", self.owner.clock.monotonic() + bound_s)
            gone = self.verifier.wait_rebooting(bound_s)
            d["gone"] = gone
        if not gone:
            return Verdict(
                Outcome.NOT_RESET,
                f"it kept answering {bound_s:g} s after the reset: it did not restart, "
                "so the reset is pending until it does",
            )
        with self.recorder.step("wait_back", boot_timeout_s=timeout_s) as d:
            self.stage("waiting for it to come back", self.owner.clock.monotonic() + timeout_s)
            verdict = self.verifier.wait_back(timeout_s)
            d["back"] = verdict is None
        if verdict is not None:
            return verdict
        self.pending = False  # it has restarted: whatever was pending is applied now
        with self.recorder.step("verify", mode=self.options.mode) as d:
            self.stage("checking the reset")
            if self.options.mode == BASIC:
                verdict = self.verifier.judge_basic(before)
            else:
                verdict = self.verifier.judge()
            d.update(outcome=verdict.outcome.value, reason=verdict.reason, **verdict.evidence)
        return verdict


# --- reading ISAPI answers ------------------------------------------------------------------


def _accepted(status: ResponseStatus) -> bool:
    return status.status_code in (STATUS_OK, STATUS_REBOOT_REQUIRED)


def _status_details(status: ResponseStatus | None, lock: LockInfo | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if status is not None:
        details["status_code"] = status.status_code
        details["status_string"] = status.status_string
    if lock is not None:
        details["lock"] = asdict(lock)
    return details


def _refusal(
    exchange: Exchange, lock: LockInfo | None, what: str, *, pending: bool = False
) -> Verdict | None:
    """The verdict for a request that did not succeed, or None if it did (HTTP 200)."""
    if exchange.status == 200 and exchange.error is None:
        return None
    after = (
        "the reset was accepted and is pending until the unit restarts"
        if pending
        else "nothing was reset"
    )
    evidence: dict[str, Any] = {"http_status": exchange.status, "error": exchange.error}
    if lock is not None:
        evidence.update(lock_s=lock.unlock_s, retry_left=lock.retry_left)
    left = f"{lock.unlock_s} s left" if lock is not None and lock.unlock_s is not None else ""
    if lock is not None and lock.locked and exchange.login_attempts == 0:
        # IsapiClient saw the lock in the challenge and sent no credentials: a login now
        # could only lengthen the lock.
        return Verdict(
            Outcome.NOT_RESET,
            f"the camera has locked this rig out ({left or 'time left unknown'}): "
            f"no login attempted, {after}",
            evidence,
        )
    if exchange.status == 401 and exchange.login_attempts == 1:
        reason = f"wrong password (401): {after}"
        if lock is not None and lock.locked:
            reason += f"; the camera now locks this rig out ({left or 'time left unknown'})"
        return Verdict(Outcome.NOT_RESET, reason, evidence)
    if exchange.status is None:
        return Verdict(
            Outcome.NO_RESPONSE,
            f"web port did not answer {what}: {exchange.error}" + f": {after}",
            evidence,
        )
    return Verdict(
        Outcome.NOT_RESET,
        f"{what} refused: {exchange.error or f'HTTP {exchange.status}'}: {after}",
        evidence,
    )


def _identity_mismatch(info: DeviceInfo, before: SadpReply, target: Target) -> str | None:
    """Why the web answer is not from the unit SADP found (and the operator named), or None."""
    if info.serial is None and info.mac is None:
        return "the web answer names no serial and no MAC"
    if info.serial is not None:
        if before.device_sn and info.serial.strip().upper() != before.device_sn.strip().upper():
            return f"the web answer is from serial {info.serial}, not {before.device_sn}"
        if target.serial and not info.serial.strip().upper().endswith(target.serial.upper()):
            return f"the web answer is from serial {info.serial}, not {target.serial}"
    if info.mac is not None and info.mac != before.mac:
        return f"the web answer is from MAC {info.mac}, not {before.mac}"
    return None
