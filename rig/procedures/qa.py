"""The QA pass: after a proven reset, activate the unit with the bench password, check that
it works, and return it to factory state, proven as the reset was (docs/architecture.md,
"The QA pass"; REFERENCE.md §1).

Its own job, linked to the unit's reset (rig.jobs.run_unit). Its steps, in order:

1. `find`: the unit the reset proved, by its MAC on SADP, inactive.
2. `qa_activate`: `GET /SDK/activateStatus` says inactive; the challenge exchange
   (rig.qa.activation); `PUT /ISAPI/System/activate`.
3. `qa_identity`: one login to `deviceInfo`: model, serial and MAC are the unit's.
4. `qa_firmware`: at least the model's minimum; below it, with a `digicap.dav` for the model,
   `qa_upgrade` flashes it, waits for the reboot and reads the version again.
5. `qa_picture`: two snapshots of the main stream (rig.qa.picture), a thumbnail kept.
6. `qa_storage`, on models with a card slot: the card is there and has a capacity.
7. the restore: `factory_reset` (mode=full), `reboot`, `wait_down`, `wait_back`, `verify`:
   the unit is inactive again, judged as a software reset is.

Each check is a step whose details are its measurements, limits and pass/fail (rig.qa.measure).
A failing check does not stop the pass: the unit is restored whatever was found. The job's
outcome is the restore's proof (`reset_verified`: back in factory state); `qa` says whether
every check passed and `qa_check` names the first that did not.

Lock-out safety: every authenticated request is one login (IsapiClient); a refused login
ends every further login of the pass (the restore included), and the unit is then left to the
bay's hard reset (`left_activated`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.errors import ParseError
from rig.job import Plan, ProcedureName, StepName, Unit, Verdict
from rig.network.isapi import (
    DEVICE_INFO_PATH,
    STATUS_OK,
    STATUS_REBOOT_REQUIRED,
    DeviceInfo,
    Exchange,
    IsapiClient,
    LockInfo,
    parse_device_info,
    parse_response_status,
    parse_storage,
    parse_upgrade_status,
)
from rig.network.sadp import SadpReply
from rig.outcomes import Outcome
from rig.procedures.base import VerifiedProcedure
from rig.procedures.software import FACTORY_RESET_PATH, REBOOT_PATH, wait_restart
from rig.qa import activation
from rig.qa.firmware import FirmwarePolicy, check_firmware
from rig.qa.measure import Check, equals, failed
from rig.qa.picture import PictureLimits, check_picture
from rig.qa.storage import check_storage
from rig.runner import JobContext, Stop
from rig.software.targets import Password
from rig.verify.network import IsapiFactory
from rig.verify.software import SoftwareVerifier

PICTURE_PATH = "/ISAPI/Streaming/channels/101/picture"  # channel 1, main stream
STORAGE_PATH = "/ISAPI/ContentMgmt/Storage"
UPDATE_FIRMWARE_PATH = "/ISAPI/System/updateFirmware"
UPGRADE_STATUS_PATH = "/ISAPI/System/upgradeStatus"
SNAPSHOT_MAX_BYTES = 8 * 1024 * 1024  # a 12 MP JPEG is about 3 MB
PASSED, FAILED = "passed", "failed"


@dataclass(frozen=True)
class QaOptions:
    """What the QA pass checks a unit against: its profile's limits and the station's policy."""

    firmware: FirmwarePolicy = field(default_factory=FirmwarePolicy)
    picture: PictureLimits = field(default_factory=PictureLimits)
    has_card_slot: bool = True
    user: str = "admin"  # the user activation creates
    snapshot_gap_s: float = 1.0  # between the two snapshots: a live stream changes in it
    boot_timeout_s: float = 240.0
    upgrade_timeout_s: float = 600.0  # a flash takes minutes on a real unit
    upgrade_poll_s: float = 2.0


class _LoginRefused(Exception):
    """A login of the pass was refused: no further login may be tried (lock-out)."""


class QaPass(VerifiedProcedure):
    """One unit's QA pass, a strategy of the job runner (rig.runner)."""

    verifier: SoftwareVerifier

    def __init__(
        self,
        unit: Unit,
        password: Password,
        options: QaOptions,
        *,
        verifier: SoftwareVerifier,
        isapi: IsapiFactory,
        scanned_serial: str | None = None,
    ) -> None:
        if unit.mac is None:
            raise ValueError("the QA pass needs the unit's MAC (from its proven reset)")
        self.reset_unit = unit
        self.options = options
        self.verifier = verifier
        self._password = password
        self._isapi = isapi
        self.plan = Plan(
            procedure=ProcedureName.QA,
            off_s=0.0,
            hold_s=0.0,
            boot_timeout_s=options.boot_timeout_s,
            scanned_serial=scanned_serial,
            named_mac=unit.mac,
        )
        self.checks: list[Check] = []
        # True from the moment the unit may have taken the bench password until the restore
        # is proven: a unit left so must go back to the bay's hard reset.
        self.left_activated = False
        self._refused_login: str | None = None

    # -- what the runner and run_unit read --------------------------------------------------

    @property
    def qa(self) -> str | None:
        """passed / failed once the pass has checks; None before any. A pass cut short
        (aborted) before its restore was judged has failed, whatever it had measured."""
        if not self.checks:
            return None
        return FAILED if self.qa_check is not None else PASSED

    @property
    def qa_check(self) -> str | None:
        """The first check that failed ("restore" for a pass that never judged it)."""
        failed_check = next((c.name for c in self.checks if not c.passed), None)
        if failed_check is None and self.checks[-1:] and self.checks[-1].name != "restore":
            return "restore"
        return failed_check

    def aborted_note(self) -> str | None:
        if self.left_activated:
            return "the unit was activated for QA and is left ACTIVATED: reset it again"
        return None

    # -- the pass ---------------------------------------------------------------------------

    def run(self, job: JobContext) -> Verdict:
        reply = self._find(job)
        if not reply.ipv4 or not reply.http_port:
            self.checks.append(failed("activate", "its SADP reply names no web address"))
            raise Stop(
                Verdict(Outcome.NO_RESPONSE, "QA failed: its SADP reply names no web address")
            )
        with self._isapi(reply.ipv4, reply.http_port) as client:
            try:
                if self._activate(job, client):
                    self._checks(job, client, reply)
            except _LoginRefused:
                pass  # recorded in its check; nothing more is tried with that password
            restored = self._restore(job, client)
        return self._final(restored)

    def _final(self, restored: Verdict) -> Verdict:
        self.checks.append(
            Check(
                "restore",
                (equals("factory_state", restored.outcome is Outcome.RESET_VERIFIED, True),),
                extra={"outcome": restored.outcome.value},
            )
        )
        bad = next((c for c in self.checks if not c.passed), None)
        summary = "QA passed" if bad is None else f"QA failed: {bad.name}: {bad.why}"
        if restored.outcome is Outcome.RESET_VERIFIED:
            self.left_activated = False
            reason = f"{summary}; restored: {restored.reason}"
        else:
            reason = f"{summary}; NOT restored: {restored.reason}"
        return Verdict(restored.outcome, reason, restored.evidence)

    def _find(self, job: JobContext) -> SadpReply:
        mac = self.reset_unit.mac
        with job.step(StepName.FIND, mac=mac) as d:
            job.stage("QA: finding the unit (SADP)")
            reply = self.verifier.find(mac=mac, serial=None)
            d["found"] = reply is not None
            if reply is not None:
                d.update(self.verifier.unit.as_dict())
        if reply is None:
            self.checks.append(failed("activate", f"MAC {mac} did not answer SADP"))
            raise Stop(
                Verdict(
                    Outcome.NO_RESPONSE,
                    f"QA failed: activate: MAC {mac} did not answer SADP; nothing was done",
                )
            )
        return reply

    # -- 2. activate ------------------------------------------------------------------------

    def _activate(self, job: JobContext, client: IsapiClient) -> bool:
        with job.step(StepName.QA_ACTIVATE, path=activation.ACTIVATE_PATH) as d:
            job.stage("QA: activating with the bench password")
            check = self._activation(client, d)
            self.checks.append(check)
            d.update(check.as_details())
        return check.passed

    def _activation(self, client: IsapiClient, d: dict[str, Any]) -> Check:
        activated, exchange = client.activate_status()
        d["activate_status"] = exchange.as_dict()
        if activated is not False:
            state = "activated" if activated else f"unknown ({exchange.error})"
            return failed("activate", f"activateStatus is {state}, not inactive")
        key = activation.new_key()
        nonce: str | None = None
        exchanges: list[dict[str, Any]] = []
        d["challenge"] = exchanges
        for form in activation.CHALLENGE_FORMS:
            answer, exchange = client.send_xml(
                "POST", activation.CHALLENGE_PATH, activation.challenge_body(key, form=form)
            )
            exchanges.append({"form": form, **exchange.as_dict()})
            if exchange.status == 200 and answer is not None:
                try:
                    nonce = activation.decrypt_nonce(key, activation.parse_challenge_answer(answer))
                except ParseError as exc:
                    return failed("activate", f"challenge answer: {exc}")
                break
            if exchange.status is None or not 400 <= exchange.status < 500:
                break  # no answer, or not a refusal of the body's form: another form won't help
        if nonce is None:
            last = exchanges[-1]
            return failed("activate", f"challenge refused: {last['error']}")
        # From here the unit may take the password even if its answer is lost.
        self.left_activated = True
        answer, exchange = client.send_xml(
            "PUT",
            activation.ACTIVATE_PATH,
            activation.activate_body(nonce, self._password.reveal()),
        )
        d["activate"] = exchange.as_dict()
        status = None
        if answer is not None:
            try:
                status = parse_response_status(answer)
            except ParseError as exc:
                return failed("activate", f"activate answer: {exc}")
        if status is None:
            return failed("activate", f"activate: {exchange.error or 'no ResponseStatus'}")
        words = " / ".join(w for w in (status.status_string, status.sub_status_code) if w)
        if exchange.status != 200 or status.status_code != STATUS_OK:
            self.left_activated = False  # refused: the unit says it took nothing
            return failed(
                "activate", f"activation refused: statusCode {status.status_code} ({words})"
            )
        return Check("activate", (equals("status", status.status_string or "", "OK"),))

    # -- 3.-6. the checks -------------------------------------------------------------------

    def _login(
        self, d: dict[str, Any], what: str, exchange: Exchange, lock: LockInfo | None
    ) -> None:
        """Record one authenticated call; a refused login ends every further one."""
        d.setdefault("exchanges", []).append(exchange.as_dict())
        if exchange.status == 401 or (lock is not None and lock.locked):
            self._refused_login = f"{what}: login refused ({exchange.error})"
            raise _LoginRefused(self._refused_login)

    def _checks(self, job: JobContext, client: IsapiClient, reply: SadpReply) -> None:
        info = self._identity(job, client, reply)
        if info is not None:
            self._firmware(job, client, info)
        self._picture(job, client)
        if self.options.has_card_slot:
            self._storage(job, client)

    def _get(
        self, client: IsapiClient, d: dict[str, Any], what: str, path: str, **kw: Any
    ) -> bytes | None:
        content, exchange, lock = client.get_with_login(
            path, self.options.user, self._password.reveal(), **kw
        )
        self._login(d, what, exchange, lock)
        if content is None:
            d.setdefault("errors", []).append(f"{what}: {exchange.error}")
        return content

    def _identity(
        self, job: JobContext, client: IsapiClient, reply: SadpReply
    ) -> DeviceInfo | None:
        unit = self.reset_unit
        with job.step(StepName.QA_IDENTITY, path=DEVICE_INFO_PATH) as d:
            job.stage("QA: identity (deviceInfo)")
            try:
                info, check = self._read_identity(client, d, unit)
            except _LoginRefused as exc:
                self.checks.append(failed("identity", str(exc)))
                d.update(self.checks[-1].as_details())
                raise
            self.checks.append(check)
            d.update(check.as_details())
        return info

    def _read_identity(
        self, client: IsapiClient, d: dict[str, Any], unit: Unit
    ) -> tuple[DeviceInfo | None, Check]:
        content = self._get(client, d, "deviceInfo", DEVICE_INFO_PATH)
        if content is None:
            return None, failed("identity", f"deviceInfo: {d['errors'][-1]}")
        try:
            info = parse_device_info(content)
        except ParseError as exc:
            return None, failed("identity", f"deviceInfo: {exc}")
        check = Check(
            "identity",
            (
                equals("serial", info.serial, unit.serial),
                equals("mac", info.mac, unit.mac),
                equals("model", info.model, unit.model),
            ),
        )
        return info, check

    def _firmware(self, job: JobContext, client: IsapiClient, info: DeviceInfo) -> None:
        policy = self.options.firmware
        with job.step(StepName.QA_FIRMWARE, min_firmware=policy.min_firmware) as d:
            job.stage("QA: firmware")
            check = check_firmware(info.firmware, policy)
            d.update(check.as_details())
        if check.passed or policy.upgrade_file is None or check.reason is not None:
            self.checks.append(check)
            return
        self.checks.append(self._upgrade(job, client, policy.upgrade_file, info.firmware))

    def _upgrade(
        self, job: JobContext, client: IsapiClient, image_path: Path, before: str | None
    ) -> Check:
        policy = self.options.firmware
        with job.step(StepName.QA_UPGRADE, file=str(image_path), firmware_before=before) as d:
            job.stage("QA: upgrading the firmware")
            try:
                image = image_path.read_bytes()
            except OSError as exc:
                check = failed("firmware", f"cannot read {image_path}: {exc.strerror}")
                d.update(check.as_details())
                return check
            d["file_bytes"] = len(image)
            status, exchange, lock = client.put_file(
                UPDATE_FIRMWARE_PATH,
                self.options.user,
                self._password.reveal(),
                image,
                timeout_s=self.options.upgrade_timeout_s,
            )
            self._login(d, "updateFirmware", exchange, lock)
            accepted = status is not None and status.status_code in (
                STATUS_OK,
                STATUS_REBOOT_REQUIRED,
            )
            if not accepted:
                words = exchange.error if status is None else status.status_string
                check = failed("firmware", f"upgrade refused: {words}")
                d.update(check.as_details())
                return check
            d["progress"] = self._follow_upgrade(job, client, d)
            if status is not None and status.status_code == STATUS_REBOOT_REQUIRED:
                _, exchange, lock = client.put(
                    REBOOT_PATH, self.options.user, self._password.reveal()
                )
                self._login(d, "reboot", exchange, lock)
            gone = self.verifier.wait_rebooting(self.options.upgrade_timeout_s)
            d["rebooted"] = gone
            back = self.verifier.wait_back(self.options.boot_timeout_s) if gone else None
            if not gone or back is not None:
                why = "it did not reboot" if not gone else back.reason  # type: ignore[union-attr]
                check = failed("firmware", f"after the upgrade: {why}")
                d.update(check.as_details())
                return check
            content = self._get(client, d, "deviceInfo", DEVICE_INFO_PATH)
            try:
                after = parse_device_info(content).firmware if content else None
            except ParseError:
                after = None
            check = check_firmware(after, policy)
            check.extra["firmware_before"] = before
            d.update(check.as_details())
            return check

    def _follow_upgrade(
        self, job: JobContext, client: IsapiClient, d: dict[str, Any]
    ) -> list[int | None]:
        """upgradeStatus until the flash is done or the unit restarts (no answer)."""
        progress: list[int | None] = []
        deadline = job.clock.monotonic() + self.options.upgrade_timeout_s
        while job.clock.monotonic() < deadline:
            content, exchange, lock = client.get_with_login(
                UPGRADE_STATUS_PATH, self.options.user, self._password.reveal()
            )
            if exchange.status is None:
                break  # gone: the unit restarts with the new image
            self._login(d, "upgradeStatus", exchange, lock)
            try:
                status = parse_upgrade_status(content) if content else None
            except ParseError:
                status = None
            progress.append(None if status is None else status.percent)
            if status is not None and status.upgrading is False:
                break
            job.clock.sleep(self.options.upgrade_poll_s)
        return progress

    def _picture(self, job: JobContext, client: IsapiClient) -> None:
        with job.step(StepName.QA_PICTURE, path=PICTURE_PATH) as d:
            job.stage("QA: picture (two snapshots)")
            try:
                first = self._get(client, d, "snapshot", PICTURE_PATH, max_body=SNAPSHOT_MAX_BYTES)
                job.clock.sleep(self.options.snapshot_gap_s)
                second = self._get(client, d, "snapshot", PICTURE_PATH, max_body=SNAPSHOT_MAX_BYTES)
            except _LoginRefused as exc:
                self.checks.append(failed("picture", str(exc)))
                d.update(self.checks[-1].as_details())
                raise
            if first is None or second is None:
                check, thumb = failed("picture", "; ".join(d.get("errors", []))), None
            else:
                check, thumb = check_picture(first, second, self.options.picture)
            self.checks.append(check)
            d.update(check.as_details())
            if thumb is not None:
                d["thumbnail_jpeg_b64"] = base64.b64encode(thumb).decode("ascii")

    def _storage(self, job: JobContext, client: IsapiClient) -> None:
        with job.step(StepName.QA_STORAGE, path=STORAGE_PATH) as d:
            job.stage("QA: memory card")
            try:
                content = self._get(client, d, "Storage", STORAGE_PATH)
            except _LoginRefused as exc:
                self.checks.append(failed("storage", str(exc)))
                d.update(self.checks[-1].as_details())
                raise
            if content is None:
                check = failed("storage", f"Storage: {d['errors'][-1]}")
            else:
                try:
                    check = check_storage(parse_storage(content))
                except ParseError as exc:
                    check = failed("storage", f"Storage: {exc}")
            self.checks.append(check)
            d.update(check.as_details())

    # -- 7. restore -------------------------------------------------------------------------

    def _restore(self, job: JobContext, client: IsapiClient) -> Verdict:
        if not self.left_activated:
            # The unit never took the password: it is as the reset left it. Prove it anyway.
            with job.step(StepName.VERIFY, restore="not needed: never activated") as d:
                job.stage("QA: checking it is still inactive")
                verdict = self.verifier.judge()
                d.update(outcome=verdict.outcome.value, reason=verdict.reason, **verdict.evidence)
            return verdict
        if self._refused_login is not None:
            return Verdict(
                Outcome.NOT_RESET,
                f"no restore: {self._refused_login}; one more login could lock the rig out",
            )
        user, password = self.options.user, self._password.reveal()
        path = FACTORY_RESET_PATH.format(mode="full")
        with job.step(StepName.FACTORY_RESET, mode="full", path=path) as d:
            job.stage("QA: restoring factory state")
            status, exchange, _ = client.put(path, user, password)
            d.update(exchange.as_dict())
        accepted = status is not None and status.status_code in (STATUS_OK, STATUS_REBOOT_REQUIRED)
        if exchange.status is not None and not accepted:
            return Verdict(
                Outcome.NOT_RESET,
                f"factoryReset refused: {exchange.error or (status and status.status_string)}",
            )
        if exchange.status is not None:
            with job.step(StepName.REBOOT, path=REBOOT_PATH) as d:
                job.stage("QA: rebooting it")
                _, exchange, _ = client.put(REBOOT_PATH, user, password)
                d.update(exchange.as_dict())
        gone, bound_s, back = wait_restart(
            job, self.verifier, self.options.boot_timeout_s, stage="QA: "
        )
        if not gone:
            return Verdict(Outcome.NOT_RESET, f"it kept answering {bound_s:g} s after the restore")
        if back is not None:
            return back
        with job.step(StepName.VERIFY, mode="full") as d:
            job.stage("QA: checking the restore")
            verdict = self.verifier.judge()
            d.update(outcome=verdict.outcome.value, reason=verdict.reason, **verdict.evidence)
        return verdict
