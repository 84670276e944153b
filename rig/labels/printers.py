"""Printing a label: a Brother QL over the network, or any CUPS printer.

A Brother QL takes its own raster language on raw TCP port 9100; brother-ql-next makes the
raster from the label image (invalidate, ESC @ initialise, media and mode, the raster lines,
the print command) and sends it with its network backend. Anything else prints through CUPS:
the label's PDF handed to `lp`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from rig.labels.content import LabelError
from rig.labels.names import DEFAULT_MODEL

BROTHER_PORT = 9100


def brother_raster(image: Image.Image, label: str, *, model: str = DEFAULT_MODEL) -> bytes:
    """The print job for a Brother QL `model`, on `label` media (brother_ql's name: "62x29")."""
    from brother_ql.conversion import convert
    from brother_ql.raster import BrotherQLRaster

    try:
        qlr = BrotherQLRaster(model)
        qlr.exception_on_warning = True
        convert(qlr, [image], label, cut=True, rotate="0", threshold=50, compress=False)
    except Exception as exc:  # brother_ql raises bare Exception/ValueError for bad choices
        raise LabelError(f"Brother {model} on {label!r} labels: {exc}") from None
    return bytes(qlr.data)


def printer_url(printer: str) -> str:
    """`HOST`, `HOST:PORT` or `tcp://HOST[:PORT]` -> brother_ql's `tcp://HOST:PORT`."""
    address = printer.removeprefix("tcp://").strip().rstrip("/")
    if not address:
        raise LabelError(f"printer {printer!r}: expected HOST[:PORT]")
    if ":" not in address.rsplit("]", 1)[-1]:
        address = f"{address}:{BROTHER_PORT}"
    return f"tcp://{address}"


def print_brother(job: bytes, printer: str) -> None:
    """Send a raster job to the Brother QL at `printer` (HOST[:PORT], port 9100 by default)."""
    from brother_ql.backends.network import BrotherQLBackendNetwork

    url = printer_url(printer)
    try:
        backend = BrotherQLBackendNetwork(url)
        try:
            backend.write(job)
        finally:
            backend.dispose()
    except OSError as exc:
        raise LabelError(f"printer {url}: cannot send the label: {exc.strerror or exc}") from None


def print_cups(pdf: bytes, printer: str | None, *, title: str = "rig label") -> str:
    """Print the label's PDF on CUPS printer `printer` (None: the default one); `lp`'s answer."""
    lp = shutil.which("lp")
    if lp is None:
        raise LabelError("CUPS: no `lp` command here (Debian: apt-get install cups-client)")
    with tempfile.TemporaryDirectory(prefix="rig-label-") as tmp:
        path = Path(tmp) / "label.pdf"
        path.write_bytes(pdf)
        argv = [lp, *(["-d", printer] if printer else []), "-t", title, "-o", "fit-to-page"]
        done = subprocess.run(
            [*argv, str(path)], capture_output=True, text=True, timeout=60, check=False
        )
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise LabelError(f"CUPS printer {printer or '(default)'}: {why[-1] if why else 'failed'}")
    return done.stdout.strip()
