"""The QA pass's checks on their own: the picture measures (rig.qa.picture), the card
(rig.qa.storage, on the real Storage samples), the firmware policy and the config keys."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rig.config import parse_config
from rig.errors import ConfigError, ParseError
from rig.network.isapi import parse_storage, parse_upgrade_status
from rig.qa.firmware import FirmwarePolicy, check_firmware
from rig.qa.picture import (
    PictureLimits,
    check_picture,
    frame_difference,
    laplacian_variance,
    luminance,
)
from rig.qa.storage import check_storage
from rig.sim.camera import qa as device

REAL = Path(__file__).parent / "fixtures" / "real" / "isapi"


def _jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "L").save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_the_laplacian_is_opencvs_default_kernel() -> None:
    # One bright pixel: the 4-neighbour kernel gives -4 at it and +1 at its four neighbours.
    luma = np.zeros((5, 5), dtype=np.float32)
    luma[2, 2] = 1.0
    values = np.array([-4.0, 1, 1, 1, 1] + [0.0] * 4)
    assert laplacian_variance(luma) == pytest.approx(float(values.var()))
    assert laplacian_variance(np.full((8, 8), 100.0, dtype=np.float32)) == 0.0


def test_a_sharp_chart_passes_and_its_blur_fails() -> None:
    rng = np.random.default_rng(1)
    chart = np.kron((np.indices((12, 20)).sum(axis=0) % 2) * 200 + 20, np.ones((24, 24)))
    sharp_1 = _jpeg(chart + rng.normal(0, 1, chart.shape))
    sharp_2 = _jpeg(chart + rng.normal(0, 1, chart.shape))
    check, thumb = check_picture(sharp_1, sharp_2, PictureLimits())
    assert check.passed and thumb is not None and thumb[:2] == b"\xff\xd8"
    blurred = np.asarray(
        Image.fromarray(chart.astype(np.uint8)).resize((40, 24)).resize((480, 288))
    )
    check, _ = check_picture(_jpeg(blurred), _jpeg(blurred + 1), PictureLimits())
    assert [m.name for m in check.measurements if not m.passed] == ["laplacian_variance"]


def test_identical_frames_are_a_frozen_stream() -> None:
    frame = device.snapshot("ok")
    assert frame_difference(luminance(frame), luminance(frame)) == 0.0
    check, _ = check_picture(frame, frame, PictureLimits())
    assert check.why.startswith("frame_difference 0.0 not >= 0.01")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>not a picture</html>", "not a readable JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a readable JPEG"),
        (_jpeg(np.zeros((8, 8))), "8x8: not a camera snapshot"),
    ],
)
def test_a_snapshot_that_is_not_a_jpeg_fails_the_check_in_one_line(
    data: bytes, message: str
) -> None:
    with pytest.raises(ParseError, match=message):
        luminance(data)
    check, thumb = check_picture(data, data, PictureLimits())
    assert not check.passed and message in check.why and thumb is None


def test_a_png_is_named_as_such() -> None:
    out = io.BytesIO()
    Image.new("L", (64, 64)).save(out, format="PNG")
    with pytest.raises(ParseError, match="is PNG, not a JPEG"):
        luminance(out.getvalue())


@pytest.mark.parametrize(
    ("sample", "capacity"),
    [
        ("isapi-contentmgmt-storage-hdd1-isapi-ns.xml", 1907729),
        ("isapi-contentmgmt-storage-NVR-ACR4-40-OEM-std-cgi-ns.xml", 3815447),
        ("isapi-contentmgmt-storage-hdd1-nas1-mixed-ns.xml", 30436),
    ],
)
def test_the_card_check_reads_the_real_storage_answers(sample: str, capacity: int) -> None:
    devices = parse_storage((REAL / sample).read_bytes())
    assert [d.capacity_mb for d in devices] == [capacity]  # the NAS of the mixed one is not local
    check = check_storage(devices)
    assert check.passed, check.why


def test_no_card_and_an_unformatted_card_fail() -> None:
    check = check_storage(parse_storage(device.storage_xml(None)))
    assert check.why == "cards_detected 0 not >= 1"
    text = device.storage_xml(30436).replace(b"<status>ok", b"<status>unformatted")
    check = check_storage(parse_storage(text))
    assert [m.name for m in check.measurements if not m.passed] == ["card_status"]


def test_upgrade_status_and_a_lying_percent() -> None:
    status = parse_upgrade_status(device.upgrade_status_xml(True, 42))
    assert (status.upgrading, status.percent) == (True, 42)
    lying = b"<upgradeStatus><upgrading>no</upgrading><percent>9000</percent></upgradeStatus>"
    status = parse_upgrade_status(lying)
    assert (status.upgrading, status.percent) == (None, None)


@pytest.mark.parametrize(
    ("reported", "minimum", "passed"),
    [
        ("V5.7.18", "V5.7.3", True),  # numbers, not text: 18 > 3
        ("V5.7.3", "V5.7.3", True),
        ("V5.5.0", "V5.7.3", False),
        ("V5.5.0", None, True),
    ],
)
def test_the_firmware_policy_compares_versions_as_numbers(
    reported: str, minimum: str | None, passed: bool
) -> None:
    assert check_firmware(reported, FirmwarePolicy(minimum)).passed is passed


def test_unreadable_firmware_fails_with_the_text() -> None:
    assert "'garbage' is not a version" in check_firmware("garbage", FirmwarePolicy()).why


BASE = """
[station]
qa = true
[[bays]]
name = "A"
"""


def test_qa_config_keys(tmp_path: Path) -> None:
    image = tmp_path / "digicap.dav"
    image.write_bytes(b"x")
    config = parse_config(
        BASE
        + '[qa]\nsnapshot_gap_s = 0.5\n[qa.firmware."DS-2CD2143G2-I"]\n'
        + f'min_firmware = "V5.7.3"\nupgrade = "{image.name}"\n',
        base_dir=tmp_path,
    )
    assert config.station.qa and config.qa.snapshot_gap_s == 0.5
    policy = config.qa.firmware["DS-2CD2143G2-I"]
    assert (policy.min_firmware, policy.upgrade_file) == ("V5.7.3", image)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[qa.firmware.M]\nmin_firmware = "latest"\n', "qa.firmware.M.min_firmware: must be a"),
        ('[qa.firmware.M]\nupgrade = "nowhere.dav"\n', "qa.firmware.M.upgrade: no such file"),
        ("[qa.firmware.M]\nmin_fw = 1\n", "qa.firmware.M.min_fw: unknown key"),
        ("[qa]\nsnapshot_gap_s = 99\n", "qa.snapshot_gap_s: must be"),
    ],
)
def test_bad_qa_config_is_one_line_naming_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(BASE + extra, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (None, "the QA pass needs a bench password: set RIG_BENCH_PASSWORD"),
        ("abcdefgh", "RIG_BENCH_PASSWORD: a camera would refuse it as a risk password"),
    ],
)
def test_rig_reset_qa_without_a_usable_password_stops_before_anything_moves(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    password: str | None,
    message: str,
) -> None:
    from rig.cli import main

    config = tmp_path / "rig.toml"
    config.write_text(f'[station]\ndata_dir = "{tmp_path / "records"}"\n[[bays]]\nname = "A"\n')
    monkeypatch.delenv("RIG_BENCH_PASSWORD", raising=False)
    if password is not None:
        monkeypatch.setenv("RIG_BENCH_PASSWORD", password)
    monkeypatch.setattr("sys.stdin", io.StringIO())  # no terminal to ask on
    assert main(["reset", "--config", str(config), "--qa"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "records").exists()  # no session was opened
    if password is not None:
        assert password not in err


def test_qa_is_not_for_a_software_reset(capsys: pytest.CaptureFixture[str]) -> None:
    from rig.cli import main

    assert main(["reset", "--software", "--qa", "--mac", "44-19-b6-00-00-01"]) == 2
    assert "--qa: the QA pass follows a reset in a bay" in capsys.readouterr().err


def test_qa_refuses_a_bay_verified_by_eye(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rig.cli import main

    config = tmp_path / "rig.toml"
    config.write_text('[[bays]]\nname = "A"\nverify = "manual"\n')
    monkeypatch.setenv("RIG_BENCH_PASSWORD", "Qa-Bench-7731x")
    assert main(["reset", "--config", str(config), "--qa"]) == 2
    assert 'bay A has verify = "manual"' in capsys.readouterr().err


def test_records_of_an_older_rig_gain_the_qa_columns_empty(tmp_path: Path) -> None:
    import sqlite3

    from rig.records.store import RecordStore
    from tests.test_records import V1_SCHEMA

    old = sqlite3.connect(tmp_path / "rig.sqlite3")
    old.executescript(V1_SCHEMA)
    old.close()
    with RecordStore(tmp_path) as store:
        assert [(j["qa"], j["qa_check"]) for j in store.jobs()] == [(None, None), (None, None)]
