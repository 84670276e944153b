"""`rig reset --software`: the command-line side of the software factory reset (rig.software).

Wired into `rig reset` by rig.cli: `add_arguments(reset_parser)` adds the flags, and the reset
command starts with `if args.software: return run(args)`.

The password comes from the environment (`RIG_PASSWORD`) or one prompt on the terminal, never
from a flag (it would sit in the shell history and in `ps`) nor from the config (a file that is
copied around); a spreadsheet may carry a password per unit.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from rig.clock import Clock, SystemClock
from rig.config import load_config, resolve_data_dir
from rig.jobs import JobReport
from rig.outcomes import Outcome
from rig.profiles import GENERIC, get_profile
from rig.progress import Progress
from rig.records.store import RecordStore
from rig.safety import SafeGuard
from rig.software import (
    FULL,
    MODES,
    NETWORK_BAY,
    Password,
    SoftwareOptions,
    SoftwareReset,
    Target,
    UsageError,
    check_mac,
    check_serial,
    check_user,
    read_targets_csv,
)
from rig.verify.network import NetworkWatch

__all__ = ["PASSWORD_ENV", "add_arguments", "check_software_flags", "run"]

EXIT_OK, EXIT_FAILED = 0, 1
PASSWORD_ENV = "RIG_PASSWORD"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the software-reset flags to the `reset` subparser (which has --config, --data-dir,
    --bay, --serial and --json already; --serial names the unit here too)."""
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

    Usage errors raise UsageError (a ConfigError: the CLI prints it and exits 2), all of them
    before anything is sent to a unit.
    """
    user = check_user(args.user)
    targets = _targets(args)
    if args.bay and len(args.bay) > 1:
        raise UsageError("--software resets units one at a time: give at most one --bay")
    config = load_config(args.config)
    if args.bay:
        bay = config.bay(args.bay[0])  # a typo in the bay name is an error, not a new bay
        bay_name, boot_timeout_s = bay.name, bay.boot_timeout_s
    else:
        bay_name, boot_timeout_s = NETWORK_BAY, get_profile(GENERIC).boot_timeout_s
    # Asked last, once for all units, and only if some unit has no password of its own: a bad
    # flag or file must not cost the operator a typed password.
    shared = _shared_password(user) if any(t.password is None for t in targets) else None
    options = SoftwareOptions(
        mode=args.mode,
        user=user,
        station=config.station.name,
        bay=bay_name,
        boot_timeout_s=boot_timeout_s,
    )
    clock = clock or SystemClock()
    reports: list[JobReport] = []
    with ExitStack() as stack:
        # The records first: a disk that cannot take them must stop us before anything is sent.
        store = stack.enter_context(RecordStore(resolve_data_dir(args.data_dir, config)))
        stack.enter_context(SafeGuard())  # no bays: it turns SIGTERM/SIGHUP into `aborted`
        watch = stack.enter_context(NetworkWatch(config.network))
        progress = stack.enter_context(Progress(clock))
        resetter = SoftwareReset(
            options,
            network=config.network,
            poller=watch.poller,
            store=store,
            clock=clock,
            on_stage=lambda unit, stage, deadline: progress.stage(unit, stage, deadline),
        )
        for target in targets:
            password = target.password or shared
            assert password is not None  # asked above whenever a unit has none of its own
            report = resetter.reset(target, password)
            reports.append(report)
            progress.outcome(target.label, report.result.outcome.value)
            _print_report(report, target, as_json=args.json)
            if report.result.outcome is Outcome.ABORTED:
                break  # the operator or a signal stopped the run: no further units
    ok = len(reports) == len(targets) and all(
        r.result.outcome is Outcome.RESET_VERIFIED for r in reports
    )
    return EXIT_OK if ok else EXIT_FAILED


def _print_report(report: JobReport, target: Target, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_json(), sort_keys=True), flush=True)
        return
    r = report.result
    print(
        f"job {report.job_id} {target.label} ({target.source}): {r.outcome.value} ({r.reason});"
        f" unit {r.unit.serial or '?'} mac {r.unit.mac or '?'}",
        flush=True,
    )
