"""A simulated lab of N bays for `rig demo --bays N`: one camera per bay on gpiozero's mock
pins, most of them healthy and a few with the faults a real bench meets, each bay's config.

Bay by bay: A healthy; B needs a longer hold than the first (the station escalates to the
profile's longer hold); C dead (it never boots again: `no_response`); D in a reboot loop
(`reboot_loop`); from E on healthy and longer-hold units alternate. Every camera answers on
127.0.0.1 only (rig.sim.network).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from rig.sim.bench import gpio_bay, rig_toml, wire_to_pins
from rig.sim.camera import CameraSpec, SimCamera

#: (relay, solenoid) GPIOs per bay: the harness's pair first (wiring/), then free pairs.
PIN_PAIRS = (
    (17, 27), (22, 23), (5, 6), (12, 13), (16, 20), (19, 26),
    (24, 25), (2, 3), (4, 14), (15, 18), (7, 8), (9, 10),
)  # fmt: skip
MAX_BAYS = len(PIN_PAIRS)

HEALTHY, LONGER_HOLD, DEAD, REBOOT_LOOP = "healthy", "needs a longer hold", "dead", "reboot loop"
#: What each bay's unit does, in bay order; past the list, healthy and longer-hold alternate.
FAULTS = (HEALTHY, LONGER_HOLD, DEAD, REBOOT_LOOP)
EXPECTED = {
    HEALTHY: ("reset_verified", 1),
    LONGER_HOLD: ("reset_verified", 2),
    DEAD: ("no_response", 1),
    REBOOT_LOOP: ("reboot_loop", 1),
}
#: The longer hold the station escalates to, as a multiple of the first.
ESCALATION_FACTOR = 1.4
#: Quick SADP polls, and a settle time longer than a looping unit stays up.
LAB_NETWORK = {"sadp_poll_s": 0.25, "settle_s": 2.0}


@dataclass(frozen=True)
class LabBay:
    name: str
    fault: str
    relay: int
    solenoid: int
    spec: CameraSpec

    @property
    def expected(self) -> tuple[str, int]:
        """The outcome the bay's unit should end with, and after how many attempts."""
        return EXPECTED[self.fault]

    @property
    def label_serial(self) -> str:
        """The serial on the unit's label: the end of its DeviceSN."""
        return self.spec.device_sn[-13:]


def fault_of(index: int) -> str:
    if index < len(FAULTS):
        return FAULTS[index]
    return HEALTHY if index % 2 == 0 else LONGER_HOLD


def plan_lab(n: int, *, hold_s: float, boot_s: float) -> list[LabBay]:
    """N bays and their units; ValueError when N is out of range."""
    if not 1 <= n <= MAX_BAYS:
        raise ValueError(f"--bays: 1 to {MAX_BAYS} (a relay and a solenoid GPIO each), got {n}")
    bays = []
    for i in range(n):
        fault = fault_of(i)
        behaviour: dict[str, Any] = {"boot_s": boot_s}
        # A healthy bootloader resets on 80 % of the first hold; a stiff one needs 120 %, which
        # only the escalated hold (140 %) gives.
        behaviour["reset_hold_s"] = round(hold_s * (1.2 if fault == LONGER_HOLD else 0.8), 3)
        if fault == DEAD:
            behaviour["dead"] = True
        if fault == REBOOT_LOOP:
            behaviour.update(reboot_loop=True, up_s=0.5, down_s=1.5)
        relay, solenoid = PIN_PAIRS[i]
        spec = CameraSpec.sample(i + 1, **behaviour)
        bays.append(LabBay(string.ascii_uppercase[i], fault, relay, solenoid, spec))
    return bays


def wire_lab(bays: list[LabBay], factory: Any) -> list[SimCamera]:
    """One camera per bay, wired to its pins of the MockFactory (not started)."""
    return [
        wire_to_pins(SimCamera(bay.spec), factory, relay=bay.relay, solenoid=bay.solenoid)
        for bay in bays
    ]


def boot_timeout_s(boot_s: float) -> float:
    """Long enough for a healthy unit on a loaded machine; what a dead one is waited for."""
    return max(8.0, 5 * boot_s)


def lab_toml(bays: list[LabBay], *, target: str, off_s: float, hold_s: float, boot_s: float) -> str:
    longer = round(hold_s * ESCALATION_FACTOR, 3)
    return rig_toml(
        target=target,
        station="demo-lab",
        network=LAB_NETWORK,
        bays=[
            gpio_bay(
                bay.name,
                relay=bay.relay,
                solenoid=bay.solenoid,
                profile="DS-2CD2143G2-I",
                off_s=off_s,
                hold_s=hold_s,
                escalation_holds_s=[hold_s, longer],
                boot_timeout_s=boot_timeout_s(boot_s),
            )
            for bay in bays
        ],
    )
