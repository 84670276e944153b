"""`rig reset --software`: the command-line side of the software factory reset.

`rig.cli` adds these flags to `rig reset` (`add_arguments`) and hands the command over
(`run`) when `--software` is given. The units go through the one session and job runner every
reset takes (rig.session, rig.runner), with the procedure of rig.procedures.software.

The password comes from the environment (`RIG_PASSWORD`) or one prompt on the terminal, never
from a flag (it would sit in the shell history and in `ps`) nor from the config (a file that is
copied around); a spreadsheet may carry a password per unit.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from functools import partial
from pathlib import Path

from rig.clock import Clock, SystemClock
from rig.config import load_config, resolve_data_dir
from rig.errors import UsageError
from rig.fleet.link import fleet_link
from rig.identity import check_mac, check_serial
from rig.job import JobReport
from rig.network.isapi import IsapiClient
from rig.operator import TerminalOperator
from rig.outcomes import Outcome
from rig.procedures.software import FULL, MODES, SoftwareOptions, SoftwareReset
from rig.profiles import GENERIC, get_profile
from rig.progress import Progress
from rig.reset import EXIT_FAILED, EXIT_OK, print_report
from rig.session import open_session
from rig.software.targets import Password, Target, check_user, read_targets_csv
from rig.verify.software import SoftwareVerifier

__all__ = ["PASSWORD_ENV", "add_arguments", "check_software_flags", "run"]

PASSWORD_ENV = "RIG_PASSWORD"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the software-reset flags to the `reset` subparser (which has --config, --data-dir,
    --serial and --json already; --serial names the unit here too)."""
    g = p.add_argument_group(
        "software reset",
        f"when the admin password is known: no bay, no solenoid. The password comes from "
        f"${PASSWORD_ENV} or a prompt, never from a flag.",
    )
    g.add_argument(
        "--software",
        action="store_true",
        help="reset over the network (ISAPI factoryReset + reboot) and verify",
    )
    g.add_argument(
        "--mode",
        choices=MODES,
        default=FULL,
        help="full: back to the inactive factory state (default); "
        "basic: the web UI's Restore, keeps the network settings",
    )
    g.add_argument("--mac", help="the unit's MAC (as SADP shows it, any separator)")
    g.add_argument("--user", default="admin", help="the user to log in as (default admin)")
    g.add_argument(
        "--from-csv",
        type=Path,
        metavar="FILE",
        help="reset every unit of a spreadsheet: header row, columns mac and/or serial, "
        "optional password",
    )


def check_software_flags(args: argparse.Namespace) -> None:
    """Refuse software-reset flags given without --software (a hard reset would ignore them)."""
    if args.software:
        return
    stray = [
        flag
        for flag, given in (
            ("--mode", args.mode != FULL),
            ("--mac", args.mac is not None),
            ("--user", args.user != "admin"),
            ("--from-csv", args.from_csv is not None),
        )
        if given
    ]
    if stray:
        raise UsageError(f"{', '.join(stray)}: only with --software")


def _targets(args: argparse.Namespace) -> list[Target]:
    if args.from_csv is not None:
        if args.mac is not None or args.serial is not None:
            raise UsageError("--from-csv names the units: no --mac or --serial with it")
        return read_targets_csv(args.from_csv)
    if args.mac is None and args.serial is None:
        raise UsageError("--software needs the unit: --mac MAC, --serial SN or --from-csv FILE")
    return [
        Target(
            mac=check_mac(args.mac, "--mac") if args.mac is not None else None,
            serial=check_serial(args.serial, "--serial") if args.serial is not None else None,
        )
    ]


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _shared_password(user: str) -> Password:
    """RIG_PASSWORD, else one prompt on the terminal; without either, a usage error."""
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return Password(value)
    if not _stdin_is_tty():
        raise UsageError(
            f"no password: set {PASSWORD_ENV} or run on a terminal to be asked "
            "(never on the command line)"
        )
    try:
        value = getpass.getpass(f"password for {user} (not shown): ")
    except EOFError:
        value = ""
    if not value:
        raise UsageError("no password given")
    return Password(value)


def run(args: argparse.Namespace, *, clock: Clock | None = None) -> int:
    """`rig reset --software`: 0 when every unit is reset_verified, 1 when any is not.

    Usage errors raise UsageError (the CLI prints it and exits 2), all of them before anything
    is sent to a unit.
    """
    user = check_user(args.user)
    targets = _targets(args)
    if args.bay:
        raise UsageError("--bay: a software reset uses no bay (it finds the unit on the network)")
    if args.retry:
        raise UsageError("--retry: a software reset has no longer hold to retry with")
    config = load_config(args.config, need_bays=False)
    # Asked last, once for all units, and only if some unit has no password of its own: a bad
    # flag or file must not cost the operator a typed password.
    shared = _shared_password(user) if any(t.password is None for t in targets) else None
    options = SoftwareOptions(
        mode=args.mode, user=user, boot_timeout_s=get_profile(GENERIC).boot_timeout_s
    )
    network = config.network

    def isapi(host: str, port: int) -> IsapiClient:
        return IsapiClient(host, port, timeout_s=network.http_timeout_s)

    clock = clock or SystemClock()
    data_dir = resolve_data_dir(args.data_dir, config)
    reports: list[JobReport] = []
    with (
        open_session(
            config, [], data_dir, clock=clock, operator=TerminalOperator(), network=True
        ) as session,
        Progress(clock, rows="unit") as progress,
        # [fleet] postgres: the records uploaded, at the end too (rig.fleet; no bay for MQTT).
        fleet_link(config, data_dir, progress, flush_s=10.0, live=False),
    ):
        assert session.network is not None
        runner = session.runner(clock)
        for target in targets:
            password = target.password or shared
            assert password is not None  # asked above whenever a unit has none of its own
            verifier = SoftwareVerifier(
                session.network.poller,
                settle_s=network.settle_s,
                http_timeout_s=network.http_timeout_s,
                isapi=isapi,
            )
            procedure = SoftwareReset(target, password, options, verifier=verifier, isapi=isapi)
            try:
                report = runner.run(
                    procedure,
                    bay=None,
                    profile=GENERIC,
                    on_stage=partial(progress.stage, target.label),
                    where=f"{target.label} ({target.source})",
                )
            finally:
                verifier.close()
            reports.append(report)
            progress.outcome(target.label, report.result.outcome.value)
            print_report(report, as_json=args.json)
            if report.result.outcome is Outcome.ABORTED:
                break  # the operator or a signal stopped the run: no further units
    ok = len(reports) == len(targets) and all(
        r.result.outcome is Outcome.RESET_VERIFIED for r in reports
    )
    return EXIT_OK if ok else EXIT_FAILED
