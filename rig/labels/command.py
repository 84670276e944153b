"""`rig label JOB`: a verified unit's label to a file, a Brother QL or a CUPS printer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rig.clock import SystemClock
from rig.errors import UsageError
from rig.labels.names import DEFAULT_MODEL, DEFAULT_SIZE, SIZE_NAMES
from rig.records.units import units_from_jobs
from rig.session import open_records

if TYPE_CHECKING:
    from rig.labels.content import LabelData


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("job", type=int, metavar="JOB", help="a job id of the unit (rig report)")
    p.add_argument(
        "--size", choices=SIZE_NAMES, default=DEFAULT_SIZE, help="default: 62x29 (die-cut)"
    )
    p.add_argument(
        "--output", "-o", type=Path, help="write the label here (.png or .pdf; default PNG)"
    )
    p.add_argument("--brother", metavar="HOST[:PORT]", help="print on a Brother QL (TCP 9100)")
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"the Brother QL's model (default {DEFAULT_MODEL})"
    )
    p.add_argument("--cups", nargs="?", const="", metavar="PRINTER", help="print with CUPS (lp)")
    p.add_argument(
        "--url", metavar="BASE", help="the station page's address: the QR code links there"
    )


def run(args: argparse.Namespace, data_dir: Path) -> int:
    from rig.labels.content import label_for_job
    from rig.labels.layout import label_pdf, render_label
    from rig.labels.printers import brother_raster, print_brother, print_cups

    if args.job < 1:
        raise UsageError(f"JOB: a job id is a positive number, got {args.job}")
    if args.url is not None and not args.url.startswith(("http://", "https://")):
        raise UsageError(f"--url: the station page's address (http://HOST:PORT), got {args.url!r}")
    with open_records(data_dir, SystemClock()) as store:
        units = units_from_jobs(store.jobs())
    data = label_for_job(units, args.job, base_url=args.url)
    if args.output is None and args.brother is None and args.cups is None:
        args.output = Path(f"label-{data.job_id}.png")
    if args.output is not None:
        _write(data, args.output, args.size)
    if args.brother is not None:
        print_brother(
            brother_raster(render_label(data, args.size), args.size, model=args.model), args.brother
        )
        print(
            f"label of job {data.job_id} sent to Brother {args.model} at {args.brother}",
            file=sys.stderr,
        )
    if args.cups is not None:
        answer = print_cups(
            label_pdf(data, args.size), args.cups or None, title=f"rig label {data.serial}"
        )
        print(answer or f"label of job {data.job_id} sent to CUPS", file=sys.stderr)
    return 0


def _write(data: LabelData, path: Path, size: str) -> None:
    from rig.labels.layout import label_pdf, label_png

    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise UsageError(f"--output {path}: a label is written as .png or .pdf")
    body = label_pdf(data, size) if suffix == ".pdf" else label_png(data, size)
    path.write_bytes(body)
    print(f"label of job {data.job_id} ({data.serial}) written to {path}", file=sys.stderr)
