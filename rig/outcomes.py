"""The outcome of one job: exactly these names (outside tools rely on them; see
docs/architecture.md, "Contracts")."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    RESET_VERIFIED = "reset_verified"
    NOT_RESET = "not_reset"  # it came back still activated
    NO_RESPONSE = "no_response"  # it never came back within boot_timeout_s
    REBOOT_LOOP = "reboot_loop"  # it came and went repeatedly
    WRONG_DEVICE = "wrong_device"  # something answered, but not the unit in the bay
    HARDWARE_FAULT = "hardware_fault"  # board or actuator error (or power did not cut)
    ABORTED = "aborted"  # operator or signal
