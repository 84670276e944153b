"""The `rig` command line (also `python -m rig`): its commands, flags, exit codes and `--json`
keys are a contract outside tools rely on (docs/architecture.md, "Contracts").

Exit codes: 0 every unit reset_verified, 1 any not (or a runtime failure), 2 bad usage or
config. Errors are one line on stderr, never a traceback (`--debug` shows it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from rig import __version__
from rig.clock import Clock, SystemClock
from rig.config import (
    DEFAULT_CONFIG,
    EXAMPLE_CONFIG,
    StationConfig,
    load_config,
    resolve_data_dir,
)
from rig.errors import ConfigError, RigError, UsageError
from rig.hardware.bay import BayHardware
from rig.hardware.board import BoardPool
from rig.hardware.factory import build_bay
from rig.identity import check_serial
from rig.operator import Operator, TerminalOperator
from rig.profiles import all_profiles
from rig.records.export import to_csv, to_json
from rig.reset import EXIT_FAILED, EXIT_OK, reset_bays
from rig.safety import SafeGuard
from rig.session import open_records
from rig.software import command as software

if TYPE_CHECKING:
    from rig.config import BayConfig, RigConfig
    from rig.network.sadp import SadpReply
    from rig.qa.setup import QaRequest

log = logging.getLogger("rig")

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig", description="Factory-reset Hikvision IP cameras and prove it."
    )
    parser.add_argument("--version", action="version", version=f"rig {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="default: rig.toml")
        p.add_argument("--data-dir", help="where the records live (overrides [station] data_dir)")

    p = sub.add_parser("reset", help="reset the unit in a bay and verify it")
    with_config(p)
    p.add_argument("--bay", action="append", help="bay name (repeat for several; default all)")
    p.add_argument("--serial", help="the serial printed on the unit's label (scanned)")
    p.add_argument("--json", action="store_true", help="one JSON object per unit on stdout")
    p.add_argument(
        "--retry", action="store_true", help="retry a not_reset unit with the longer holds"
    )
    p.add_argument(
        "--qa",
        action="store_true",
        help="after the proven reset, the QA pass: activate with $RIG_BENCH_PASSWORD, check, "
        "restore (README 'QA pass')",
    )
    software.add_arguments(p)

    p = sub.add_parser("run", help="the station: every bay at once, units scanned in")
    with_config(p)
    p.add_argument("--no-retry", action="store_true", help="no escalation to longer holds")
    p.add_argument(
        "--no-stdin",
        action="store_true",
        help="read no scans from stdin, only from [station] scanner (the systemd service)",
    )
    p.add_argument(
        "--web",
        nargs="?",
        const="127.0.0.1:8765",
        metavar="ADDR:PORT",
        help="serve the station page (default 127.0.0.1:8765; beyond it set RIG_WEB_TOKEN)",
    )

    p = sub.add_parser("selftest", help="click the relay and tap the solenoid of a bay")
    with_config(p)
    p.add_argument("--bay", required=True)

    p = sub.add_parser("profiles", help="list the camera model profiles")
    with_config(p)
    p.add_argument(
        "--learned",
        action="store_true",
        help="per model, the hold its units start at, learned from the records (README)",
    )
    p.add_argument("--json", action="store_true", help="with --learned: one object per model")

    p = sub.add_parser("init", help="write a commented example rig.toml")
    p.add_argument("path", nargs="?", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = sub.add_parser("report", help="export the records")
    with_config(p)
    p.add_argument(
        "--format",
        choices=("json", "csv", "html"),
        default="csv",
        help="one row (csv) or object (json) per unit; html: summary and reset certificates",
    )
    p.add_argument(
        "--since", help="only units whose first attempt started on or after this date (UTC)"
    )
    p.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    p.add_argument("--title", help="the HTML page's title (default: Factory reset report)")
    p.add_argument(
        "--fleet",
        action="store_true",
        help="every station's records, from the fleet's PostgreSQL ([fleet] postgres)",
    )

    p = sub.add_parser("label", help="a verified unit's label: PNG/PDF, Brother QL or CUPS")
    with_config(p)
    from rig.labels.command import add_arguments as label_arguments

    label_arguments(p)

    p = sub.add_parser("status", help="the bays of the config and their last job")
    with_config(p)

    p = sub.add_parser("fleet", help="every station's bays (MQTT) and the day (PostgreSQL)")
    with_config(p)
    p.add_argument(
        "action",
        nargs="?",
        choices=("status",),
        help="status: how far each rig's outbox is behind",
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument(
        "--window-s", type=float, default=1.0, help="listen to MQTT this long (default 1)"
    )
    p.add_argument("--watch", action="store_true", help="keep the view live (Ctrl-C ends it)")
    p.add_argument(
        "--web",
        nargs="?",
        const="127.0.0.1:8766",
        metavar="ADDR:PORT",
        help="the same view, live in a browser (default 127.0.0.1:8766; Ctrl-C ends it)",
    )

    p = sub.add_parser("demo", help="a full simulated reset: mock pins and a simulated camera")
    p.add_argument("--data-dir", help="keep the demo's records here (default: a temp dir)")
    p.add_argument("--off-s", type=float, default=5.0, help="power-off time (default 5)")
    p.add_argument("--hold-s", type=float, default=18.0, help="hold time (default 18)")
    p.add_argument("--boot-s", type=float, default=4.0, help="simulated boot time (default 4)")
    p.add_argument("--board", action="store_true", help="through the simulated firmware board")
    p.add_argument("--json", action="store_true", help="the job as JSON on stdout")
    p.add_argument("--bays", type=int, help="the station with N simulated bays (some with faults)")
    p.add_argument(
        "--web",
        nargs="?",
        const="127.0.0.1:8765",
        metavar="ADDR:PORT",
        help="with --bays: the station page (default 127.0.0.1:8765)",
    )
    p.add_argument("--qa", action="store_true", help="then the QA pass: activate, check, restore")

    p = sub.add_parser("board", help="actuator board tools")
    board_sub = p.add_subparsers(dest="board_command", required=True, metavar="ACTION")
    check = board_sub.add_parser("check", help="identify a board, click relays, tap solenoids")
    check.add_argument("port", help="serial device or pyserial URL, e.g. /dev/ttyACM0")

    p = sub.add_parser("switch", help="managed PoE switch tools")
    switch_sub = p.add_subparsers(dest="switch_command", required=True, metavar="ACTION")
    check = switch_sub.add_parser(
        "check", help="each bay's port: PoE admin and detection state, MACs, the bay it feeds"
    )
    with_config(check)
    check.add_argument("name", help="the switch, as in [switches.NAME]")

    p = sub.add_parser("discover", help="list the units answering SADP")
    with_config(p)
    p.add_argument("--window-s", type=float, default=2.0, help="listen this long (default 2)")
    p.add_argument("--json", action="store_true", help="one JSON object per unit")

    p = sub.add_parser(
        "doctor", help="check the station: config, pins, boards, switches, network, disk, fleet"
    )
    with_config(p)
    p.add_argument("--json", action="store_true", help="one JSON object per check on stdout")

    p = sub.add_parser(
        "install-service", help="install `rig run` as a systemd service, and the boards' udev rule"
    )
    p.add_argument("--user", default="rig", help="the user the service runs as (default: rig)")
    p.add_argument("--prefix", type=Path, default=Path("/etc"), help="default: /etc")
    p.add_argument("--root", type=Path, help="stage everything under this directory instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(COMMANDS[args.command](args))
    except ConfigError as exc:
        print(f"rig: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (RigError, OSError) as exc:
        if args.debug:
            raise
        print(f"rig: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("rig: stopped", file=sys.stderr)
        return EXIT_FAILED


# -- commands -----------------------------------------------------------------------------


def cmd_reset(args: argparse.Namespace, *, clock: Clock | None = None) -> int:
    if args.software:
        if args.qa:
            raise UsageError("--qa: the QA pass follows a reset in a bay, not --software")
        return software.run(args, clock=clock)
    software.check_software_flags(args)
    serial = check_serial(args.serial, "--serial") if args.serial is not None else None
    config = load_config(args.config)
    bays = [config.bay(name) for name in args.bay] if args.bay else list(config.bays)
    if serial and len(bays) != 1:
        raise UsageError("--serial names one unit: give exactly one --bay with it")
    qa = _qa_request(config, bays, every_unit=args.qa)
    return reset_bays(
        config,
        bays,
        clock=clock or SystemClock(),
        data_dir=resolve_data_dir(args.data_dir, config),
        scanned_serial=serial,
        as_json=args.json,
        operator=TerminalOperator(),
        retry=args.retry,
        qa=qa,
    )


def _qa_request(config: RigConfig, bays: list[BayConfig], *, every_unit: bool) -> QaRequest | None:
    """The QA pass as asked (`--qa`, [station] qa, a profile's qa), with the bench password
    (asked now, before anything moves); None when no unit gets it."""
    from rig.qa.password import bench_password
    from rig.qa.setup import QaRequest, wants_qa

    if not every_unit and not wants_qa(config, bays):
        return None
    manual = [bay.name for bay in bays if bay.verify != "network"]
    if every_unit and manual:
        raise UsageError(
            f'--qa: bay {manual[0]} has verify = "manual": the QA pass needs the network'
        )
    return QaRequest(bench_password(), config, every_unit=every_unit)


def cmd_run(args: argparse.Namespace) -> int:
    import io

    from rig.notify import Notifier
    from rig.scanner import scan_lines
    from rig.station import Station

    config = load_config(args.config)
    operator = TerminalOperator()
    web = None
    if args.web is not None:  # the station page (rig.web): checked before anything moves
        from rig.web.serve import WebOption

        web = WebOption.from_args(args.web)
    if args.no_stdin and config.station.scanner is None and web is None:
        raise UsageError(f"--no-stdin: no scan could come: set [station] scanner in {args.config}")
    # stdin; with [station] scanner, the scanner (and stdin when it is a terminal, and not
    # --no-stdin: a service's stdin is /dev/null, whose end must not stop the station)
    scans = scan_lines(config, io.StringIO() if args.no_stdin else sys.stdin)
    qa = _qa_request(config, list(config.bays), every_unit=False)
    station = Station(
        config,
        clock=SystemClock(),
        data_dir=resolve_data_dir(args.data_dir, config),
        operator=operator,
        scans=scans,
        retry=not args.no_retry,
        notifier=Notifier.from_env(),  # systemd's READY, STOPPING and watchdog; else no-ops
        qa=qa,
    )
    labels = None
    if config.labels.prints:  # [labels]: each verified unit's label printed (rig.labels)
        from rig.labels.station import LabelPrinter

        labels = LabelPrinter(
            config.labels,
            station=config.station.name,
            tell=lambda line: station.operator.tell(line),  # the page's too, with --web
        )
        station.unit_listeners.append(labels.unit_done)
    if web is not None:
        from rig.web.serve import serve_station

        with scans:
            code = serve_station(
                station,
                scans,
                web,
                terminal=not args.no_stdin and sys.stdin.isatty(),
                labels=labels,
            )
    else:
        with scans:  # closing ungrabs the scanner
            code = station.run()
    if labels is not None:
        labels.close()
    operator.tell(station.tally.line(station.clock.monotonic()))
    return code


def cmd_selftest(args: argparse.Namespace, *, clock: Clock | None = None) -> int:
    config = load_config(args.config)
    bay = config.bay(args.bay)
    clock = clock or SystemClock()
    operator = TerminalOperator()
    from rig.hardware.switch import SwitchPool

    with BoardPool(config.boards) as boards, SwitchPool(config.switches) as switches:
        hw = build_bay(bay, config, clock, operator, boards=boards, switches=switches)
        with SafeGuard([hw]):
            try:
                selftest(hw, clock, operator)
            finally:
                hw.close()
    return EXIT_OK


def selftest(hw: BayHardware, clock: Clock, operator: Operator) -> None:
    """Click the relay and tap the solenoid so the technician can see and hear both."""
    operator.tell(f"Bay {hw.name}: relay: cutting power for 1 s (listen for two clicks)")
    hw.power.off()
    clock.sleep(1.0)
    hw.power.on()
    clock.sleep(0.5)
    for _ in range(2):
        operator.tell(f"Bay {hw.name}: solenoid: tap (watch the plunger)")
        hw.presser.press(0.5)
        clock.sleep(0.2)
        hw.presser.release()
        clock.sleep(max(0.3, hw.presser.rest_remaining_s()))
    operator.tell(f"Bay {hw.name}: selftest done; the bay is in its safe state")


def cmd_profiles(args: argparse.Namespace) -> int:
    if args.learned:
        return _learned_holds(args)
    if args.json:
        raise UsageError("--json: only with --learned")
    table = Table(title="camera profiles")
    for column in ("model", "kind", "procedure", "off_s", "hold_s", "window", "boot", "escalation"):
        table.add_column(column)
    for p in all_profiles().values():
        table.add_row(
            p.model,
            p.kind,
            p.procedure,
            f"{p.off_s:g}",
            f"{p.hold_s:g}",
            f"{p.hold_window_s[0]:g}–{p.hold_window_s[1]:g}",
            f"{p.boot_timeout_s:g}",
            ", ".join(f"{h:g}" for h in p.escalation_holds_s),
        )
    console = _stdout_console()
    console.print(table)
    for p in all_profiles().values():
        console.print(f"[bold]{p.model}[/]: {p.fixture}")
    return EXIT_OK


def _learned_holds(args: argparse.Namespace) -> int:
    """`rig profiles --learned`: what the station's records have taught, per model."""
    from rig.holds import learned_models

    config = _config_if_any(args)
    min_units = config.station.learn_min_units if config else StationConfig.learn_min_units
    with open_records(resolve_data_dir(args.data_dir, config), SystemClock(), config) as store:
        models = learned_models(store, min_units=min_units)
    if args.json:
        for model in models:
            print(json.dumps(model.as_json(), sort_keys=True))
        return EXIT_OK
    table = Table(title=f"holds learned per model (sure: {min_units} units, 90 % verified)")
    for column in ("model", "learned hold", "profile hold", "window", "units verified", "status"):
        table.add_column(column)
    for model in models:
        sure, profile = model.learned.sure, model.profile
        table.add_row(
            model.learned.key,
            f"{model.start_s:g} s" if model.start_s is not None else "-",
            # A model rig ships no profile for is held as the generic profile says.
            f"{profile.hold_s:g} s" + ("" if profile.model == model.learned.key else " (generic)"),
            f"{profile.hold_window_s[0]:g}–{profile.hold_window_s[1]:g} s",
            (
                f"{sure.units_verified} of {sure.units_tried} units,"
                f" {sure.attempts_verified} of {sure.attempts} attempts at {sure.hold_s:g} s"
                if sure
                else "-"
            ),
            "learned" if sure else model.learned.progress(),
        )
    console = _stdout_console()
    console.print(table)
    if not models:
        console.print("no hard-reset attempts on record yet")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.exists() and not args.force:
        raise UsageError(f"{path}: already exists (use --force to overwrite)")
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    print(f"wrote {path}: edit the bays, then `rig selftest --bay A`", file=sys.stderr)
    return EXIT_OK


def _since(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise UsageError(f"--since: expected a date YYYY-MM-DD, got {value!r}") from None
    return day.timestamp()


def _data_dir(args: argparse.Namespace) -> Path:
    return resolve_data_dir(args.data_dir, _config_if_any(args))


def _config_if_any(args: argparse.Namespace) -> RigConfig | None:
    """The config of a command that can do without one (`rig report --data-dir D`)."""
    if args.config.exists() or not args.data_dir:
        return load_config(args.config, need_bays=False)
    return None


def cmd_report(args: argparse.Namespace) -> int:
    # The page's code is only loaded when a page is asked for.
    from rig.records.report import DEFAULT_TITLE, render_html

    since = _since(args.since)
    if args.fleet:
        from rig.fleet.cli import fleet_jobs_for

        jobs = fleet_jobs_for(load_config(args.config, need_bays=False), since_wall=since)
    else:
        # With the config, the switch ports a dead rig left cut are enabled first (as at
        # every command's start that knows the switches).
        config = _config_if_any(args)
        data_dir = resolve_data_dir(args.data_dir, config)
        with open_records(data_dir, SystemClock(), config) as store:
            jobs = store.jobs(since_wall=since)
    if args.format == "html":
        text = render_html(
            jobs,
            title=args.title or DEFAULT_TITLE,
            since=None if since is None else datetime.fromtimestamp(since, UTC).date(),
        )
    else:
        text = to_json(jobs) if args.format == "json" else to_csv(jobs)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_label(args: argparse.Namespace) -> int:
    from rig.labels.command import run

    return run(args, _data_dir(args))


def cmd_status(args: argparse.Namespace) -> int:
    config = load_config(args.config, need_bays=False)
    with open_records(resolve_data_dir(args.data_dir, config), SystemClock(), config) as store:
        jobs = store.jobs()
    table = Table(title=f"station {config.station.name}")
    for column in ("bay", "power", "presser", "profile", "hold_s", "last job", "outcome"):
        table.add_column(column)
    for bay in config.bays:
        last = next((j for j in reversed(jobs) if j["bay"] == bay.name), None)
        table.add_row(
            bay.name,
            bay.power.describe(),
            bay.presser.describe(),
            bay.profile.model,
            f"{bay.hold_s:g}",
            str(last["job_id"]) if last else "-",
            (last["outcome"] or "running") if last else "-",
        )
    _stdout_console().print(table)
    return EXIT_OK


def cmd_fleet(args: argparse.Namespace) -> int:
    from rig.fleet.cli import run_fleet

    config = load_config(args.config, need_bays=False)
    return run_fleet(
        config,
        resolve_data_dir(args.data_dir, config),
        action=args.action,
        as_json=args.json,
        window_s=args.window_s,
        console=_stdout_console(),
        watch_view=args.watch,
        web=args.web,
    )


def _stdout_console() -> Console:
    """A terminal keeps its width; a pipe or file gets lines wide enough for a serial."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def cmd_demo(args: argparse.Namespace) -> int:
    from rig.demo import run_demo, run_station_demo

    if args.bays is not None:
        if args.board or args.json or args.qa:
            raise UsageError(
                "--bays: the station demo runs on mock pins, without --board, --json or --qa"
            )
        return run_station_demo(
            bays=args.bays,
            web=args.web,
            data_dir=Path(args.data_dir) if args.data_dir else None,
            off_s=args.off_s,
            hold_s=args.hold_s,
            boot_s=args.boot_s,
        )
    if args.web is not None:
        raise UsageError("--web: the demo's page shows a station: add --bays N (e.g. --bays 4)")
    return run_demo(
        data_dir=Path(args.data_dir) if args.data_dir else None,
        off_s=args.off_s,
        hold_s=args.hold_s,
        boot_s=args.boot_s,
        as_json=args.json,
        board=args.board,
        qa=args.qa,
    )


def cmd_board(args: argparse.Namespace) -> int:
    from rig.hardware.board import BoardLink, check_board

    with BoardLink("board", args.port) as link:
        problems = check_board(link, lambda line: print(line, flush=True))
    for problem in problems:
        print(f"PROBLEM {problem}", flush=True)
    print("board OK" if not problems else f"board has {len(problems)} problem(s)", flush=True)
    return EXIT_OK if not problems else EXIT_FAILED


def cmd_switch(args: argparse.Namespace) -> int:
    from rig.hardware.switch import SwitchPool
    from rig.switchcheck import check_switch

    config = load_config(args.config, need_bays=False)
    # Opening the records enables the ports a dead rig left cut (rig.session.open_records).
    with (
        open_records(resolve_data_dir(args.data_dir, config), SystemClock(), config),
        SwitchPool(config.switches) as pool,
    ):
        problems = check_switch(config, args.name, pool, lambda line: print(line, flush=True))
    for problem in problems:
        print(f"PROBLEM {problem}", flush=True)
    print(f"switch {args.name} OK" if not problems else f"{len(problems)} problem(s)", flush=True)
    return EXIT_OK if not problems else EXIT_FAILED


def cmd_discover(args: argparse.Namespace) -> int:
    from rig.config import NetworkConfig
    from rig.network.sadp import SadpClient

    network = (
        load_config(args.config, need_bays=False).network
        if args.config.exists()
        else NetworkConfig()
    )
    with SadpClient(
        network.sadp_target, source=network.sadp_source, interface=network.sadp_interface
    ) as client:
        replies = sorted(client.probe(args.window_s), key=lambda r: r.mac)
    if args.json:
        for r in replies:
            print(json.dumps(_unit_json(r), sort_keys=True))
        return EXIT_OK
    table = Table(title=f"SADP: {len(replies)} unit(s) answered")
    for column in ("MAC", "serial", "model", "firmware", "IP", "activated"):
        table.add_column(column, no_wrap=True)
    for r in replies:
        activated = "?" if r.activated is None else ("yes" if r.activated else "no (factory)")
        table.add_row(r.mac, r.device_sn, r.model, r.firmware, r.ipv4, activated)
    _stdout_console().print(table)
    return EXIT_OK


def _unit_json(reply: SadpReply) -> dict[str, object]:
    return {
        "mac": reply.mac,
        "serial": reply.device_sn,
        "model": reply.model,
        "firmware": reply.firmware,
        "ip": reply.ipv4,
        "http_port": reply.http_port,
        "activated": reply.activated,
    }


def cmd_doctor(args: argparse.Namespace) -> int:
    """One line per check (rig.doctor); exit 0 unless one fails, 2 if it is the config."""
    from rich.text import Text

    from rig.doctor import Status, iter_checks

    console = Console(soft_wrap=True, highlight=False) if sys.stdout.isatty() else None
    colours = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}
    checks = []
    for check in iter_checks(args.config, args.data_dir):
        checks.append(check)
        if args.json:
            print(json.dumps(check.as_json(), sort_keys=True), flush=True)
        elif console is not None:
            status = Text(str(check.status), style=colours.get(check.status, "dim"))
            console.print(Text.assemble(status, " ", check.message))
        else:
            print(check.line(), flush=True)
    if any(c.check == "config" and c.status is Status.FAIL for c in checks):
        return EXIT_USAGE
    return EXIT_FAILED if any(c.status is Status.FAIL for c in checks) else EXIT_OK


def cmd_install_service(args: argparse.Namespace) -> int:
    """The unit, the udev rule and rig.toml (rig.systemd), then the commands to run next."""
    from rig.systemd import install

    for line in install(user=args.user, prefix=args.prefix, root=args.root).lines:
        print(line)
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "install-service": cmd_install_service,
    "board": cmd_board,
    "switch": cmd_switch,
    "demo": cmd_demo,
    "discover": cmd_discover,
    "doctor": cmd_doctor,
    "reset": cmd_reset,
    "selftest": cmd_selftest,
    "profiles": cmd_profiles,
    "init": cmd_init,
    "report": cmd_report,
    "status": cmd_status,
    "label": cmd_label,
    "fleet": cmd_fleet,
}

__all__ = ["main"]
