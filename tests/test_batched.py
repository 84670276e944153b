"""Reads of many bays folded into few (rig.batched), and the switch reads that use
it: the port numbering read once, the learned MACs walked each time."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import pytest

from rig.batched import Batched
from rig.network.snmp.fdb import (
    BASE_PORT_IFINDEX,
    IF_NAME,
    Q_FDB_PORT,
    Q_FDB_STATUS,
    STP_PORT,
    read_forwarding_table,
)

HANG_S = 20.0


class GatedRead:
    """A read that blocks until the test opens its gate; it logs the keys of each read."""

    def __init__(self) -> None:
        self.reads: list[frozenset[str]] = []
        self.started = threading.Event()
        self.gate = threading.Event()
        self.fail: Exception | None = None

    def __call__(self, keys: frozenset[str]) -> Mapping[str, str]:
        self.reads.append(keys)
        self.started.set()
        assert self.gate.wait(HANG_S)
        if self.fail is not None:
            raise self.fail
        return {key: f"{key}@{len(self.reads)}" for key in keys}


def ask(batched: Batched[str, str], key: str, out: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            out[key] = batched.get(key)
        except Exception as exc:
            out[key] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_callers_during_a_read_share_the_next_one() -> None:
    read = GatedRead()
    batched = Batched(read)
    out: dict[str, object] = {}
    first = ask(batched, "p1", out)
    assert read.started.wait(HANG_S)  # read 1 is in flight, for p1 alone
    others = [ask(batched, f"p{n}", out) for n in range(2, 9)]
    while sum(batched._waiting.values()) < 8:  # every caller has asked
        threading.Event().wait(0.01)
    read.gate.set()
    for thread in [first, *others]:
        thread.join(HANG_S)
    # Two reads, not eight: the seven who asked during the first share the second, and none
    # got the first's answer (it was read before they asked).
    assert read.reads == [frozenset({"p1"}), frozenset(f"p{n}" for n in range(2, 9))]
    assert out["p1"] == "p1@1"
    assert all(out[f"p{n}"] == f"p{n}@2" for n in range(2, 9))
    assert batched.reads == 2 and batched._results == {} and batched._waiting == {}


def test_a_failed_read_fails_each_of_its_callers_and_the_next_read_is_fresh() -> None:
    read = GatedRead()
    read.fail = OSError("agent away")
    batched = Batched(read)
    read.gate.set()
    with pytest.raises(OSError, match="agent away"):
        batched.get("p1")
    read.fail = None
    assert batched.get("p1") == "p1@2"


# -- the forwarding table ------------------------------------------------------------------


def walk_of(rows: dict[tuple[int, ...], list[tuple[tuple[int, ...], object]]], log: list):
    def walk(prefix: tuple[int, ...]) -> list[tuple[tuple[int, ...], object]]:
        log.append(prefix)
        return rows.get(prefix, [])

    return walk


MAC = (0xC0, 0x56, 0xE3, 0, 0, 1)
ROWS = {
    Q_FDB_PORT: [((*Q_FDB_PORT, 1, *MAC), 5)],
    Q_FDB_STATUS: [((*Q_FDB_STATUS, 1, *MAC), 3)],
    BASE_PORT_IFINDEX: [((*BASE_PORT_IFINDEX, 5), 49157)],
    STP_PORT: [],
    IF_NAME: [((*IF_NAME, 49157), b"gi5")],
}


def test_the_port_numbering_is_read_once_then_only_the_learned_macs() -> None:
    log: list[tuple[int, ...]] = []
    walk = walk_of(ROWS, log)
    first = read_forwarding_table(walk)
    assert first.macs_on(1, 5) == ["c0-56-e3-00-00-01"]
    assert set(log) == {Q_FDB_PORT, Q_FDB_STATUS, BASE_PORT_IFINDEX, STP_PORT, IF_NAME}
    log.clear()
    again = read_forwarding_table(walk, first.port_map)
    assert again.macs_on(1, 5) == ["c0-56-e3-00-00-01"]
    assert log == [Q_FDB_PORT, Q_FDB_STATUS]  # two short walks, not the interface table


def test_a_bridge_port_the_map_does_not_know_reads_the_map_again() -> None:
    log: list[tuple[int, ...]] = []
    first = read_forwarding_table(walk_of(ROWS, log), None)
    renumbered = {
        **ROWS,
        Q_FDB_PORT: [((*Q_FDB_PORT, 1, *MAC), 7)],
        BASE_PORT_IFINDEX: [((*BASE_PORT_IFINDEX, 7), 49157)],
    }
    log.clear()
    table = read_forwarding_table(walk_of(renumbered, log), first.port_map)
    assert BASE_PORT_IFINDEX in log
    assert table.macs_on(1, 5) == ["c0-56-e3-00-00-01"]
