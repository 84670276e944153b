"""Labels (`rig label JOB`): what a verified unit's label says, its QR code read back, the PNG
and PDF at the label's size, and the print job a Brother QL gets over TCP (a listener on
127.0.0.1 stands in for the printer) or CUPS gets through `lp`."""

from __future__ import annotations

import io
import os
import re
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from gpiozero.pins.mock import MockFactory
from PIL import Image

from rig.cli import main
from rig.config import parse_config
from rig.errors import ConfigError
from rig.job import Plan, ProcedureName, Result, Step, Unit
from rig.labels import names
from rig.labels.content import LabelError, label_for_job
from rig.labels.layout import DPI, SIZES, render_label
from rig.labels.printers import brother_raster
from rig.outcomes import Outcome
from rig.records.store import RecordStore
from rig.records.units import UnitRecord, units_from_jobs
from rig.sim.bench import gpio_bay, rig_toml, wire_to_pins
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork

MODEL = "DS-2CD2143G2-I"
STARTED = 1_796_000_000.0  # 2026-11-30, UTC


def add_job(
    store: RecordStore,
    outcome: Outcome,
    *,
    tail: str,
    first_job_id: int | None = None,
    attempt: int = 1,
) -> int:
    plan = Plan(ProcedureName.POWER_CYCLE_HOLD, 5.0, 18.0, 180.0, scanned_serial=tail)
    job_id = store.start_job(
        station="bench-1",
        bay="A",
        profile=MODEL,
        plan=plan,
        wall=STARTED,
        attempt=attempt,
        first_job_id=first_job_id,
    )
    unit = Unit(serial=f"{MODEL}20230815{tail}", mac=f"44-19-b6-00-00-{job_id:02x}", model=MODEL)
    store.set_unit(job_id, unit)
    store.add_step(job_id, Step("hold", 10.0, STARTED + 10, 28.0, {"hold_s": 18.0}))
    store.finish_job(job_id, Result(outcome, "test", unit, 18.0, [], []), STARTED + 90)
    return job_id


@pytest.fixture
def records(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """An escalated unit (not_reset, then verified), and a unit that stayed not_reset."""
    data_dir = tmp_path / "records"
    with RecordStore(data_dir) as store:
        first = add_job(store, Outcome.NOT_RESET, tail="AAWRJ12345678")
        second = add_job(
            store, Outcome.RESET_VERIFIED, tail="AAWRJ12345678", first_job_id=first, attempt=2
        )
        failed = add_job(store, Outcome.NOT_RESET, tail="AAWRJ99999999")
    return data_dir, {"first": first, "verified": second, "failed": failed}


def qr_text(image: Image.Image) -> str:
    [code] = zxingcpp.read_barcodes(image)
    assert code.format == zxingcpp.BarcodeFormat.QRCode
    return str(code.text)


def test_a_unit_s_label_is_its_last_attempt_s_certificate(
    records: tuple[Path, dict[str, int]],
) -> None:
    data_dir, ids = records
    with RecordStore(data_dir) as store:
        units = units_from_jobs(store.jobs())
    # Any attempt's job names the unit; the certificate is the verified (last) attempt's.
    data = label_for_job(units, ids["first"])
    assert data.job_id == ids["verified"]
    assert (data.model, data.serial) == (MODEL, f"{MODEL}20230815AAWRJ12345678")
    assert data.mac == f"44-19-B6-00-00-{ids['verified']:02X}"
    assert (data.outcome, data.date, data.station) == ("reset_verified", "2026-11-30", "bench-1")
    assert data.qr == f"bench-1/certificate-{ids['verified']}"
    linked = label_for_job(units, ids["verified"], base_url="http://10.0.0.5:8765/")
    assert linked.qr == f"http://10.0.0.5:8765/report#certificate-{ids['verified']}"
    with pytest.raises(LabelError, match=r"is not_reset, not reset_verified: no label$"):
        label_for_job(units, ids["failed"])
    with pytest.raises(LabelError, match="job 99: no such job"):
        label_for_job(units, 99)


def test_rig_label_writes_a_png_whose_qr_code_decodes_to_the_certificate(
    records: tuple[Path, dict[str, int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, ids = records
    out = tmp_path / "label.png"
    argv = ["label", str(ids["first"]), "--data-dir", str(data_dir), "-o", str(out)]
    assert main([*argv, "--url", "http://127.0.0.1:8765"]) == 0
    assert f"written to {out}" in capsys.readouterr().err
    image = Image.open(out)
    assert image.size == SIZES["62x29"].printable == (696, 271)
    assert tuple(round(d) for d in image.info["dpi"]) == (DPI, DPI)
    assert qr_text(image) == f"http://127.0.0.1:8765/report#certificate-{ids['verified']}"
    # Without the page's address the QR code holds the certificate's id.
    assert main([*argv, "--size", "62"]) == 0
    image = Image.open(out)
    assert image.size == (696, 400)
    assert qr_text(image) == f"bench-1/certificate-{ids['verified']}"


def test_the_pdf_is_one_page_the_size_of_the_label(
    records: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    data_dir, ids = records
    out = tmp_path / "label.pdf"
    assert main(["label", str(ids["verified"]), "--data-dir", str(data_dir), "-o", str(out)]) == 0
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF")
    [box] = re.findall(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)  # one page
    width_mm, height_mm = (float(v) * 25.4 / 72 for v in box)
    assert width_mm == pytest.approx(62.0, abs=0.2) and height_mm == pytest.approx(28.9, abs=0.2)


def test_no_label_for_a_unit_not_verified_is_one_line(
    records: tuple[Path, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, ids = records
    assert main(["label", str(ids["failed"]), "--data-dir", str(data_dir)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"rig: error: job {ids['failed']}: unit ") and "no label" in line


class PrinterListener:
    """A TCP listener on 127.0.0.1 standing in for a Brother QL's port 9100."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(60)
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(30)
            while chunk := conn.recv(65536):
                self.received += chunk

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def printer() -> Iterator[PrinterListener]:
    listener = PrinterListener()
    yield listener
    listener.close()


def test_a_brother_ql_on_the_network_receives_a_raster_job(
    records: tuple[Path, dict[str, int]], printer: PrinterListener
) -> None:
    data_dir, ids = records
    argv = ["label", str(ids["verified"]), "--data-dir", str(data_dir)]
    assert main([*argv, "--brother", f"127.0.0.1:{printer.port}"]) == 0
    printer.thread.join(timeout=30)
    job = printer.received
    # Brother's raster: (switch to raster mode,) invalidate (a run of NULs), ESC @ initialise,
    # ... one line per dot row ..., and the print command (with feed) last.
    head = re.match(rb"(\x1bia\x01)?(\x00{200,})\x1b@", job)
    assert head is not None, job[:16]
    assert job.endswith(b"\x1a")
    # The media it asks for: ESC i z, then flags, media type, 62 mm wide, 29 mm long, and the
    # number of raster lines: the label's 271 dot rows.
    media = job.index(b"\x1biz")
    width_mm, length_mm, lines = struct.unpack_from("<BBI", job, media + 5)
    assert (width_mm, length_mm, lines) == (62, 29, 271)
    assert job == brother_raster(
        render_label(label_for_job(units_of(data_dir), ids["verified"])), "62x29"
    )


def units_of(data_dir: Path) -> list[UnitRecord]:
    with RecordStore(data_dir) as store:
        return units_from_jobs(store.jobs())


def test_a_printer_that_does_not_answer_is_one_line(
    records: tuple[Path, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, ids = records
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    argv = ["label", str(ids["verified"]), "--data-dir", str(data_dir)]
    assert main([*argv, "--brother", f"127.0.0.1:{port}"]) == 1
    [line] = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("rig: error")]
    assert line == (
        f"rig: error: printer tcp://127.0.0.1:{port}: cannot send the label: Connection refused"
    )


def test_a_cups_printer_gets_the_label_s_pdf_through_lp(
    records: tuple[Path, dict[str, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CUPS queue is the hardware edge here: an `lp` that keeps what it was given.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kept = tmp_path / "printed"
    lp = bin_dir / "lp"
    lp.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {kept}.args\n'
        f'for last; do :; done; cp "$last" {kept}.pdf\n'
        'echo "request id is Brother_QL-7 (1 file(s))"\n'
    )
    lp.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    data_dir, ids = records
    argv = ["label", str(ids["verified"]), "--data-dir", str(data_dir), "--cups", "Brother_QL"]
    assert main(argv) == 0
    args = Path(f"{kept}.args").read_text().splitlines()
    assert args[:2] == ["-d", "Brother_QL"]
    assert Path(f"{kept}.pdf").read_bytes().startswith(b"%PDF")


def test_the_sizes_by_name_are_the_layout_s() -> None:
    assert tuple(SIZES) == names.SIZE_NAMES and names.DEFAULT_SIZE in SIZES


def test_every_size_makes_a_raster_brother_ql_accepts() -> None:
    from rig.labels.content import LabelData

    data = LabelData(7, "bench-1", MODEL, "S" * 35, "44-19-B6-00-00-07", "reset_verified",
                     "2026-11-30", "bench-1/certificate-7")  # fmt: skip
    for name, size in SIZES.items():
        image = render_label(data, name)
        assert image.size == size.printable
        assert qr_text(image.convert("L")) == "bench-1/certificate-7"
        assert brother_raster(image, name).endswith(b"\x1a")
    png = io.BytesIO()
    render_label(data).save(png, "PNG")
    assert Image.open(png).mode == "1"  # one bit per dot: what the printer prints


def test_the_station_prints_each_verified_unit_s_label(
    lab: tuple[MockFactory, SimNetwork],
    tmp_path: Path,
    printer: PrinterListener,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    factory, network = lab
    camera = SimCamera(CameraSpec.sample(1, boot_s=0.3, reset_hold_s=1.2)).start()
    network.add(camera)
    wire_to_pins(camera, factory, relay=17, solenoid=27)
    timing = {"off_s": 0.6, "hold_s": 1.5, "boot_timeout_s": 8, "profile": MODEL}
    text = rig_toml(
        target=network.target,
        station="bench-1",
        network={"sadp_poll_s": 0.1, "settle_s": 0.4},
        bays=[gpio_bay("A", relay=17, solenoid=27, **timing)],
        data_dir=str(tmp_path / "records"),
    )
    text += f'\n[labels]\nbrother = "127.0.0.1:{printer.port}"\nurl = "http://bench-1:8765"\n'
    path = tmp_path / "rig.toml"
    path.write_text(text)
    # The scan the operator types; then the end of input: the running unit ends, the station.
    monkeypatch.setattr("sys.stdin", io.StringIO(f"A {camera.spec.device_sn[-13:]}\n"))
    assert main(["run", "--config", str(path)]) == 0
    printer.thread.join(timeout=30)
    assert printer.received.endswith(b"\x1a")
    with RecordStore(tmp_path / "records") as store:
        [job] = store.jobs()
    assert f"bay A: label of {job['serial']} sent to Brother QL-820NWB" in capsys.readouterr().err
    # What was printed is that unit's label, its QR code linking its certificate.
    data = label_for_job(
        units_of(tmp_path / "records"), job["job_id"], base_url="http://bench-1:8765"
    )
    assert printer.received == brother_raster(render_label(data), "62x29")


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            'brother = "10.0.0.9"\ncups = "QL"',
            "labels.cups: one printer: brother or cups, not both",
        ),
        ('size = "100x62"', "labels.size: must be one of 62x29, 62; got '100x62'"),
        ('printer = "QL"', "labels.printer: unknown key"),
        ('url = "bench-1:8765"', "labels.url: must be the station page's address"),
    ],
)
def test_a_bad_labels_table_is_one_line(table: str, problem: str) -> None:
    text = rig_toml(target="127.0.0.1:9", bays=[gpio_bay("A", relay=17, solenoid=27)])
    with pytest.raises(ConfigError, match=re.escape(problem)):
        parse_config(f"{text}\n[labels]\n{table}\n")


def test_a_bad_url_for_the_qr_code_is_one_line(
    records: tuple[Path, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, ids = records
    argv = ["label", str(ids["verified"]), "--data-dir", str(data_dir), "--url", "bench-1:8765"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "rig: error: --url: the station page's address (http://HOST:PORT), got 'bench-1:8765'\n"
    )
