"""main.py's wiring under CPython, beyond the shared conformance checks: what only CPython can
see (the `micropython` module, the entry point) and the pin map's own sanity."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from fw_loader import CONFORMANCE


def _firmware(fw: SimpleNamespace, tmp_path: Path, **kwargs: object) -> tuple[object, object]:
    env = CONFORMANCE.Env(fw.rigboard, fw.linebuf, fw.machine, fw.main, str(tmp_path))
    return CONFORMANCE.firmware(env, **kwargs)


def test_ctrl_c_disabled_before_anything_else(fw: SimpleNamespace, tmp_path: Path) -> None:
    _firmware(fw, tmp_path)
    kinds = [entry[1] for entry in fw.machine.log]
    assert fw.machine.entries("kbd_intr") == [(0, -1)]
    assert kinds.index("kbd_intr") < kinds.index("pin-init") < kinds.index("wdt-start")


def test_service_boot_keeps_ctrl_c(fw: SimpleNamespace, tmp_path: Path) -> None:
    (tmp_path / "service.flag").write_text("service\n")
    firmware, _ = _firmware(fw, tmp_path)
    assert firmware.service  # type: ignore[attr-defined]
    assert fw.machine.entries("kbd_intr") == []
    assert not (tmp_path / "service.flag").exists()


def test_entry_point_in_service_mode_returns_to_the_repl(
    fw: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = fw.machine.clock
    monkeypatch.setattr(
        fw.main, "time", SimpleNamespace(ticks_ms=clock.ticks_ms, ticks_diff=fw.machine.ticks_diff)
    )
    monkeypatch.setattr(
        fw.main,
        "sys",
        SimpleNamespace(
            stdin=io.TextIOWrapper(io.BytesIO()), stdout=io.TextIOWrapper(io.BytesIO())
        ),
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / fw.main.SERVICE_FLAG).write_text("service\n")
    fw.machine.restart()
    fw.main.main()  # returns: the REPL is open for mpremote
    assert fw.machine.entries("wdt-start") == []


def test_starts_the_loop_without_service_flag(
    fw: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(fw.main.Firmware, "run", lambda self: started.append(self))
    monkeypatch.setattr(fw.main.Firmware, "__init__", _fake_init)
    fw.main.main()
    assert len(started) == 1


def _fake_init(self: SimpleNamespace) -> None:
    self.service = False


def test_pin_map_is_sane(fw: SimpleNamespace) -> None:
    channels = fw.pinmap.CHANNELS
    assert sorted(channels) == [1, 2, 3, 4]
    gpios = [gpio for pair in channels.values() for gpio in pair] + [fw.pinmap.LED_PIN]
    assert len(set(gpios)) == len(gpios), "a GPIO used twice"
    # RP2040: GPIO n is PWM slice (n // 2) % 8; one slice per solenoid so each has its own duty.
    slices = [(solenoid // 2) % 8 for _, solenoid in channels.values()]
    assert len(set(slices)) == len(slices)
    assert fw.pinmap.RELAY_ACTIVE_HIGH is True


def test_main_constants_fit_the_protocol(fw: SimpleNamespace) -> None:
    # The watchdog must outlast a pass (RP2040's maximum is 8388 ms) and the loop must tick far
    # more often than the 20 ms timing budget of a hold.
    assert 0 < fw.main.WDT_TIMEOUT_MS <= 8388
    assert fw.main.POLL_MS <= 5
    assert fw.rigboard.HEARTBEAT_MS == 2000
    assert fw.rigboard.MAX_PRESS_MS == 60000
    assert fw.linebuf.MAX_LINE == 80
