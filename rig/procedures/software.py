"""The software factory reset: no bay, no solenoid, the password known.

A unit is found by SADP with the MAC or serial the operator gave; over ISAPI one digest login
to `GET /ISAPI/System/deviceInfo` must show that very unit before
`PUT /ISAPI/System/factoryReset?mode=full|basic` is sent, then `PUT /ISAPI/System/reboot` (the
camera answers statusCode 7 "Reboot Required", and the vendor's client reboots whatever it
says). The proof is the hard reset's: the same MAC drops off SADP (the reboot), comes back and
stays, and `NetworkVerifier.judge` decides the factory state (full); a basic restore must come
back with its network settings kept.

Lock-out safety: cameras lock the rig's IP after 7 failed logins, and the rig talks to many
units from one IP all day. Each request is one login (IsapiClient sends credentials exactly
once), a refused login ends the unit's job at once, and nothing is ever retried.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rig.job import Plan, ProcedureName, StepName, Verdict
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
from rig.network.sadp import SadpReply, serial_matches
from rig.outcomes import Outcome
from rig.procedures.base import VerifiedProcedure
from rig.runner import JobContext, Stop
from rig.software.targets import Password, Target
from rig.verify.network import IsapiFactory
from rig.verify.software import SoftwareVerifier

FULL, BASIC = "full", "basic"
MODES = (FULL, BASIC)
FACTORY_RESET_PATH = "/ISAPI/System/factoryReset?mode={mode}"
REBOOT_PATH = "/ISAPI/System/reboot"
# A camera drops off the network within seconds of accepting a reboot (it stops its services
# first). One that still answers after a minute has not rebooted: the reset stays pending.
REBOOT_START_S = 60.0


@dataclass(frozen=True)
class SoftwareOptions:
    mode: str = FULL  # "full": back to the inactive factory state; "basic": keep network settings
    user: str = "admin"
    boot_timeout_s: float = 240.0

    @property
    def procedure(self) -> ProcedureName:
        return ProcedureName(f"software-{self.mode}")


class SoftwareReset(VerifiedProcedure):
    """One unit's software reset, a strategy of the job runner (rig.runner)."""

    verifier: SoftwareVerifier

    def __init__(
        self,
        target: Target,
        password: Password,
        options: SoftwareOptions,
        *,
        verifier: SoftwareVerifier,
        isapi: IsapiFactory,
    ) -> None:
        if options.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {options.mode!r}")
        self.target = target
        self.options = options
        self.verifier = verifier
        self._password = password
        self._isapi = isapi
        self.plan = Plan(
            procedure=options.procedure,
            off_s=0.0,  # no power cut and no press: the unit reboots itself
            hold_s=0.0,
            boot_timeout_s=options.boot_timeout_s,
            scanned_serial=target.serial,
            named_mac=target.mac,
        )
        # Set once the unit has accepted a reset it applies at its next start: an abort or a
        # refused reboot after that leaves the reset pending, and the reason must say so.
        self.pending = False

    def aborted_note(self) -> str | None:
        if self.pending:
            return "the reset was accepted and is pending until the unit restarts"
        return None

    def run(self, job: JobContext) -> Verdict:
        before = self._find(job)
        if not before.ipv4 or not before.http_port:
            raise Stop(
                Verdict(
                    Outcome.NO_RESPONSE,
                    "its SADP reply names no web address: nothing was reset",
                )
            )
        with self._isapi(before.ipv4, before.http_port) as client:
            self._identify_login(job, client, before)
            if self._factory_reset(job, client):
                self._reboot(job, client)
        return self._verify(job, before)

    # -- find and identify -----------------------------------------------------------------

    def _find(self, job: JobContext) -> SadpReply:
        target = self.target
        with job.step(StepName.FIND, mac=target.mac, serial=target.serial) as d:
            job.stage("finding the unit (SADP)")
            reply = self.verifier.find(mac=target.mac, serial=target.serial)
            d.update(self.verifier.unit.as_dict())
            d["found"] = reply is not None
        if reply is None:
            raise Stop(
                Verdict(
                    Outcome.NO_RESPONSE,
                    f"no unit with {self._named()} answered SADP: nothing was reset",
                )
            )
        if reply.activated is False:
            # Inactive units have no password to log in with.
            raise Stop(
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

    def _identify_login(self, job: JobContext, client: IsapiClient, before: SadpReply) -> None:
        """The one login that proves the web answer comes from the unit SADP found: a reset
        camera shares 192.168.1.64 with others, so the address alone proves nothing."""
        user = self.options.user
        with job.step(StepName.IDENTIFY_LOGIN, user=user, path=DEVICE_INFO_PATH) as d:
            job.stage("checking its identity (one login)")
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
            raise Stop(refused)
        if info is None:  # 200 with an unreadable body: the answer does not say who it is
            raise Stop(
                Verdict(
                    Outcome.WRONG_DEVICE,
                    f"the web answer does not say which unit it is ({exchange.error}): "
                    "nothing was reset",
                )
            )
        mismatch = _identity_mismatch(info, before, self.target)
        if mismatch is not None:
            raise Stop(Verdict(Outcome.WRONG_DEVICE, f"{mismatch}: nothing was reset"))

    # -- the reset ---------------------------------------------------------------------------

    def _factory_reset(self, job: JobContext, client: IsapiClient) -> bool:
        """PUT factoryReset; True if the unit accepted it and should now be rebooted."""
        path = FACTORY_RESET_PATH.format(mode=self.options.mode)
        with job.step(StepName.FACTORY_RESET, mode=self.options.mode, path=path) as d:
            job.stage(f"factory reset ({self.options.mode})")
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
            raise Stop(refused)
        self.pending = True
        return True

    def _reboot(self, job: JobContext, client: IsapiClient) -> None:
        # statusCode 7 says "Reboot Required"; the vendor's client reboots whatever the answer
        # said, and so do we: the reset is applied at the next start, never before.
        with job.step(StepName.REBOOT, path=REBOOT_PATH) as d:
            job.stage("rebooting it")
            status, exchange, lock = client.put(
                REBOOT_PATH, self.options.user, self._password.reveal()
            )
            d.update(exchange.as_dict())
            d.update(_status_details(status, lock))
        if exchange.status is None:
            return  # no answer: it may be going down already; the wait will tell
        refused = _refusal(exchange, lock, "reboot", pending=True)
        if refused is not None:
            raise Stop(refused)

    # -- the proof ---------------------------------------------------------------------------

    def _verify(self, job: JobContext, before: SadpReply) -> Verdict:
        gone, bound_s, verdict = wait_restart(job, self.verifier, self.options.boot_timeout_s)
        if not gone:
            return Verdict(
                Outcome.NOT_RESET,
                f"it kept answering {bound_s:g} s after the reset: it did not restart, "
                "so the reset is pending until it does",
            )
        if verdict is not None:
            return verdict
        self.pending = False  # it has restarted: whatever was pending is applied now
        with job.step(StepName.VERIFY, mode=self.options.mode) as d:
            job.stage("checking the reset")
            if self.options.mode == BASIC:
                verdict = self.verifier.judge_basic(before)
            else:
                verdict = self.verifier.judge()
            d.update(outcome=verdict.outcome.value, reason=verdict.reason, **verdict.evidence)
        return verdict


def wait_restart(
    job: JobContext, verifier: SoftwareVerifier, timeout_s: float, *, stage: str = ""
) -> tuple[bool, float, Verdict | None]:
    """After a reset over ISAPI (this one, or the QA pass's restore): the unit goes down
    (WAIT_DOWN, within `bound_s`) and comes back (WAIT_BACK, within `timeout_s`). Returns
    whether it went down, the bound it had, and wait_back's verdict (None: back and settled,
    or it never went down). `stage` starts each stage's text ("QA: ")."""
    poller = verifier.poller
    # The bound covers a slow shutdown, and never less than the poller needs to see a
    # unit gone (misses_to_vanish silent polls plus the one in flight).
    bound_s = max(
        min(REBOOT_START_S, timeout_s),
        poller.poll_s * (poller.misses_to_vanish + 2) + poller.window_s,
    )
    with job.step(StepName.WAIT_DOWN, bound_s=round(bound_s, 3)) as d:
        job.stage(f"{stage}waiting for it to go down", job.clock.monotonic() + bound_s)
        gone = verifier.wait_rebooting(bound_s)
        d["gone"] = gone
    if not gone:
        return False, bound_s, None
    with job.step(StepName.WAIT_BACK, boot_timeout_s=timeout_s) as d:
        job.stage(f"{stage}waiting for it to come back", job.clock.monotonic() + timeout_s)
        verdict = verifier.wait_back(timeout_s)
        d["back"] = verdict is None
    return True, bound_s, verdict


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
        if target.serial and not serial_matches(info.serial, target.serial):
            return f"the web answer is from serial {info.serial}, not {target.serial}"
    if info.mac is not None and info.mac != before.mac:
        return f"the web answer is from MAC {info.mac}, not {before.mac}"
    return None
