"""Bays on a managed PoE switch, against a real SNMP agent (snmpsim on 127.0.0.1) serving the
real TP-Link SG2218P walk (its port numbering, its forwarding table) with writable PoE rows
built from RFC 3621; the simulated camera's power follows its port's admin state as the
agent holds it, so a whole reset runs through the switch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from pytest_mock import MockerFixture

from rig.cli import main
from rig.clock import SystemClock
from rig.config import parse_config
from rig.errors import HardwareFault
from rig.hardware.switch import SwitchPool, restore_ports_left_cut
from rig.network.snmp import NoSuchObject, SnmpTimeout
from rig.records.store import RecordStore
from rig.session import open_session
from rig.sim.camera import CameraSpec
from rig.sim.network import SimNetwork
from tests.fakes import ScriptedOperator
from tests.switchbench import COMMUNITY, PORT, SwitchBench, switch_bench

MAC = CameraSpec.sample(1).mac
OTHER_MAC = CameraSpec.sample(2).mac


@pytest.fixture
def bench(
    tmp_path: Path, lab: tuple[MockFactory, SimNetwork], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SwitchBench]:
    monkeypatch.setenv("RIG_SW1_COMMUNITY", COMMUNITY)
    factory, network = lab
    with switch_bench(tmp_path, factory, network) as b:
        yield b


def reset(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str], *args: str, **bay: Any
) -> tuple[int, dict[str, Any]]:
    path = bench.config(**bay)
    capsys.readouterr()
    code = main(["reset", "--json", "--config", str(path), *args])
    captured = capsys.readouterr()
    assert COMMUNITY not in captured.out + captured.err
    lines = captured.out.splitlines()
    assert len(lines) == 1, captured
    return code, json.loads(lines[0])


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s["name"] == name)["details"]


def names(job: dict[str, Any]) -> list[str]:
    return [s["name"] for s in job["steps"]]


def records_text(bench: SwitchBench) -> bytes:
    return b"".join(p.read_bytes() for p in (bench.tmp_path / "records").glob("rig.sqlite3*"))


# -- a whole reset through the agent ------------------------------------------------------------


def test_a_switch_bay_resets_its_unit_known_by_its_port(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.switch({PORT: [MAC], 9: [OTHER_MAC]})
    camera = bench.camera(1)
    neighbour = bench.camera(2, port=None)  # on another port, up all along
    code, job = reset(bench, capsys)
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["mac"] == camera.spec.mac and job["serial"] == camera.spec.device_sn
    identify = step(job, "identify")
    assert identify["known_by"] == "switch port"
    assert identify["port"] == "sw1 port 5"
    assert identify["port_macs"] == [MAC]
    assert "gigabitEthernet 1/0/5" in identify["fdb"]  # TP-Link numbering followed to the port
    assert step(job, "power_off")["power"] == "sw1 port 5 PoE"
    assert step(job, "power_off")["unit_gone"] is True
    assert step(job, "power_on")["power"] == "sw1 port 5 PoE"
    assert abs(job["hold_s"] - 1.5) < 0.05
    assert camera.in_factory_state and camera.resets == 1 and camera.power_cycles == 1
    assert neighbour.resets == 0
    assert bench.admin() == 1  # the port is on again
    with RecordStore(bench.tmp_path / "records") as store:
        assert store.ports_left_cut() == []
    assert COMMUNITY.encode() not in records_text(bench)


def test_a_scan_must_agree_with_the_port(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.switch({PORT: [MAC], 9: [OTHER_MAC]})
    camera = bench.camera(1)
    neighbour = bench.camera(2, port=None)
    code, job = reset(bench, capsys, "--serial", neighbour.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (1, "wrong_device")
    assert "sw1 port 5" in job["reason"] and MAC in job["reason"]
    assert "press" not in names(job) and "power_off" not in names(job)
    assert camera.resets == 0 and bench.admin() == 1


def test_two_macs_on_the_port_is_wrong_device_unless_one_is_scanned(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.switch({PORT: [MAC, "00-1b-21-aa-bb-cc"]})  # a small switch between bay and port
    camera = bench.camera(1)
    code, job = reset(bench, capsys)
    assert (code, job["outcome"]) == (1, "wrong_device")
    assert job["reason"].startswith("2 MACs on sw1 port 5")
    assert "press" not in names(job) and camera.resets == 0
    code, job = reset(bench, capsys, "--serial", camera.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert step(job, "identify")["known_by"] == "switch port"
    assert camera.resets == 1


def test_a_port_that_keeps_delivering_power_is_a_hardware_fault_with_nothing_pressed(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.switch({PORT: [MAC]}, stuck=[PORT])
    camera = bench.camera(1)
    code, job = reset(bench, capsys)
    assert (code, job["outcome"]) == (1, "hardware_fault")
    assert "still deliveringPower" in job["reason"] and "sw1 port 5" in job["reason"]
    assert "press" not in names(job)
    assert camera.resets == 0 and camera.power_cycles == 0
    assert bench.admin() == 1  # the safe step enabled it again
    assert step(job, "safe")["safe"] is True


def test_a_set_the_agent_ignores_is_a_hardware_fault(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.switch({PORT: [MAC]}, read_only=[PORT])
    camera = bench.camera(1)
    code, job = reset(bench, capsys)
    assert (code, job["outcome"]) == (1, "hardware_fault")
    assert job["reason"] == (
        "sw1 port 5: the SET of pethPsePortAdminEnable to 2 (off) did not take: it reads back 1"
        " (community read-only, or the agent ignores writes to it)"
    )
    assert "press" not in names(job) and camera.resets == 0


# -- the backend's one-line errors ---------------------------------------------------------------


def _pool(bench: SwitchBench, **switch: Any) -> SwitchPool:
    assert bench.agent is not None
    table = {"host": bench.agent.target, "community": COMMUNITY, "timeout_s": 0.3, **switch}
    body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
    config = parse_config(f"[switches.sw1]\n{body}", need_bays=False)
    return SwitchPool(config.switches)


def _port(pool: SwitchPool, port: int = PORT) -> Any:
    from rig.hardware.switch import SwitchPort

    return pool.power(SwitchPort("sw1", port), bay="B", clock=SystemClock())


def test_agent_down_and_wrong_community_are_timeouts_that_say_so(bench: SwitchBench) -> None:
    bench.switch({PORT: [MAC]})
    with (
        _pool(bench, community="not-the-community", retries=0) as pool,
        pytest.raises(SnmpTimeout) as wrong,
    ):
        _port(pool).off()
    assert "no SNMP answer" in str(wrong.value) and "community is wrong" in str(wrong.value)
    assert "not-the-community" not in str(wrong.value)
    assert bench.agent is not None
    bench.agent.stop()
    with _pool(bench, retries=0) as pool, pytest.raises(SnmpTimeout) as down:
        _port(pool).on()
    assert f"from {bench.agent.target}" in str(down.value)


def test_a_scanned_unit_is_found_on_its_port_by_its_own_entry(
    bench: SwitchBench, mocker: MockerFixture
) -> None:
    bench.switch({PORT: [MAC], 9: [OTHER_MAC]})
    with _pool(bench) as pool:
        power = _port(pool)
        first = power.port_macs(expect=MAC)  # no full read yet: no VLAN known for the port
        assert first is not None and first.source.startswith("Q-BRIDGE-MIB, gigabitEthernet")
        walk, get = mocker.spy(pool.client("sw1"), "walk"), mocker.spy(pool.client("sw1"), "get")
        found = power.port_macs(expect=MAC)
        assert found is not None and found.macs == (MAC,)
        assert found.source == (
            f"Q-BRIDGE-MIB entry of {MAC}, gigabitEthernet 1/0/5 (ifIndex 49157)"
        )
        assert (walk.call_count, get.call_count) == (0, 1)
        # A scan naming the unit on another port: the walk says what this port really has.
        other = power.port_macs(expect=OTHER_MAC)
        assert other is not None and other.macs == (MAC,) and "entry of" not in other.source
        assert walk.call_count > 0


def test_an_enable_that_does_not_take_keeps_the_cut_on_record() -> None:
    """The SET of a power-on is checked by the state read after it: until the switch shows
    the port enabled, the cut stays in the ledger (the safe step and the next start enable
    it), and the error says the SET did not take."""
    from types import SimpleNamespace

    from rig.clock import FakeClock
    from rig.hardware.switch import SwitchPowerSwitch
    from rig.network.snmp import SnmpError
    from rig.network.snmp.poe import PoeControl, PortState

    class OffSticks(PoeControl):  # takes the SET of off; answers the SET of on, ignores it
        vendor = "test"
        admin = True

        def state(self, group: int, port: int) -> PortState:
            detection = "deliveringPower" if self.admin else "disabled"
            return PortState(group, port, self.admin, detection)

        def set_admin(self, group: int, port: int, on: bool, *, read_back: bool = True) -> None:
            self.admin = self.admin and on

    class Ledger:
        def __init__(self) -> None:
            self.cuts: set[tuple[str, int, int]] = set()

        def mark_port_cut(self, switch: str, group: int, port: int, bay: str) -> None:
            self.cuts.add((switch, group, port))

        def clear_port_cut(self, switch: str, group: int, port: int) -> None:
            self.cuts.discard((switch, group, port))

        def ports_left_cut(self) -> list[dict[str, object]]:
            return []

    ledger = Ledger()
    poe = OffSticks(SimpleNamespace(name="sw1"))  # type: ignore[arg-type]
    power = SwitchPowerSwitch(
        poe=poe, switch="sw1", group=1, port=PORT, clock=FakeClock(), ledger=ledger
    )
    power.off()
    assert ledger.cuts == {("sw1", 1, PORT)} and not power.is_on()
    with pytest.raises(SnmpError, match=r"sw1 port 5: the SET .* to 1 \(on\) did not take"):
        power.on()
    assert ledger.cuts == {("sw1", 1, PORT)} and not power.is_on()


def test_a_port_the_switch_does_not_have(bench: SwitchBench) -> None:
    bench.switch({PORT: [MAC]})
    with _pool(bench) as pool, pytest.raises(NoSuchObject) as missing:
        _port(pool, 40).off()
    assert str(missing.value).startswith("sw1 port 40: the switch has no such PoE port")


def test_power_off_waits_for_the_port_to_stop_delivering(bench: SwitchBench) -> None:
    pse = bench.switch({PORT: [MAC]})
    with RecordStore(bench.tmp_path / "records") as store:
        pool = _pool(bench, on_timeout_s=1.0)
        pool.ledger = store
        with pool:
            power = _port(pool)
            assert power.state().delivering
            power.off()
            assert not pse.powered(PORT) and bench.admin() == 2
            assert not power.state().delivering and not power.is_on()
            assert [
                (r["switch"], r["grp"], r["port"], r["bay"]) for r in store.ports_left_cut()
            ] == [("sw1", 1, PORT, "B")]
            power.on()
            assert pse.powered(PORT) and power.state().delivering and power.is_on()
            assert store.ports_left_cut() == []
            with pytest.raises(HardwareFault, match="not deliveringPower within"):
                pse.plug(PORT, False)  # the unit taken out while its port was off
                power.off()
                power.on()
            power.make_safe()  # already enabled by on(): nothing left to do
            assert bench.admin() == 1


# -- a rig killed mid-cut -------------------------------------------------------------------------


def _reset_until_cut(
    bench: SwitchBench, path: Path, *flags: str, stdout: int
) -> subprocess.Popen[bytes]:
    """`rig reset` in a process of its own, returned once it has cut the bay's port."""
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "RIG_SW1_COMMUNITY": COMMUNITY}
    rig = subprocess.Popen(
        [sys.executable, "-m", "rig", "reset", *flags, "--config", str(path)],
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while bench.admin() != 2:
            assert rig.poll() is None, rig.stderr.read() if rig.stderr else ""
            assert time.monotonic() < deadline, "the rig never cut the port"
            time.sleep(0.05)
    except BaseException:
        rig.kill()
        rig.wait()
        raise
    return rig


# Any command that knows the switches enables them: a status look or a report is often the
# first thing run after a Pi came back.
@pytest.mark.parametrize("command", ["status", "report"])
def test_a_port_left_cut_by_a_killed_rig_is_enabled_at_the_next_start(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    bench.switch({PORT: [MAC]})
    bench.camera(1)
    path = bench.config(off_s=30)  # it is killed long before the power comes back
    rig = _reset_until_cut(bench, path, stdout=subprocess.DEVNULL)
    try:
        rig.send_signal(signal.SIGKILL)  # no handler runs: the Pi lost power mid-cut
        rig.wait(timeout=10)
    finally:
        if rig.poll() is None:
            rig.kill()
            rig.wait()
    time.sleep(0.3)
    assert bench.admin() == 2  # a switch keeps the port off: nobody enabled it
    with RecordStore(bench.tmp_path / "records") as store:
        assert [r["port"] for r in store.ports_left_cut()] == [PORT]
    capsys.readouterr()
    assert main([command, "--config", str(path)]) == 0
    assert bench.admin() == 1
    with RecordStore(bench.tmp_path / "records") as store:
        assert store.ports_left_cut() == []
        [job] = store.jobs()
    assert (job["outcome"], job["reason"]) == ("aborted", "interrupted")


def test_sigterm_mid_cut_enables_the_port_before_the_rig_exits(bench: SwitchBench) -> None:
    bench.switch({PORT: [MAC]})
    bench.camera(1)
    path = bench.config(off_s=30)
    rig = _reset_until_cut(bench, path, "--json", stdout=subprocess.PIPE)
    try:
        rig.send_signal(signal.SIGTERM)
        out, err = rig.communicate(timeout=30)
    finally:
        if rig.poll() is None:
            rig.kill()
            rig.wait()
    assert bench.admin() == 1, err  # enabled by the rig itself on its way out
    job = json.loads(out.decode().splitlines()[-1])
    assert job["outcome"] == "aborted" and step(job, "safe")["safe"] is True
    assert "press" not in names(job)
    with RecordStore(bench.tmp_path / "records") as store:
        assert store.ports_left_cut() == []
    assert COMMUNITY.encode() not in out + err


def test_a_session_enables_the_ports_left_cut_before_anything_moves(bench: SwitchBench) -> None:
    bench.switch({PORT: [MAC]})
    path = bench.config()
    from rig.config import load_config

    config = load_config(path)
    data_dir = bench.tmp_path / "records"
    with _pool(bench) as pool:
        pool.poe("sw1").set_admin(1, PORT, False)
    with RecordStore(data_dir) as store:
        store.mark_port_cut("sw1", 1, PORT, "B")
        store.mark_port_cut("gone", 1, 3, "Z")  # a switch no longer in the config
    operator = ScriptedOperator()
    with open_session(
        config, config.bays, data_dir, clock=SystemClock(), operator=operator, network=False
    ) as session:
        assert bench.admin() == 1
        assert session.switches is not None
        assert restore_ports_left_cut(session.switches, operator.tell) == [
            "gone port 3: left cut (bay Z), but no [switches.gone]"
        ]
    assert (
        "sw1 port 5: left cut by a rig that stopped mid-cut (bay B): PoE enabled again"
        in operator.told
    )


# -- rig switch check -----------------------------------------------------------------------------


def test_switch_check_lists_each_bays_port(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.switch({PORT: [MAC]})
    path = bench.config()
    capsys.readouterr()
    assert main(["switch", "check", "sw1", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Omada 18-Port Gigabit Smart Switch with 16-Port PoE+" in out
    assert "forwarding table: Q-BRIDGE-MIB" in out
    assert "PoE group 1: on, 190 W nominal, 4 W drawn (reported 4000: milliwatts)" in out
    assert (
        f"sw1 port 5 (gigabitEthernet 1/0/5): admin on, deliveringPower, class2, MACs {MAC},"
        " feeds bay B"
    ) in out
    assert COMMUNITY not in out
    assert main(["switch", "check", "sw9", "--config", str(path)]) == 2
    assert "no [switches.sw9] (switches: sw1)" in capsys.readouterr().err
