"""A simulated Hikvision IP camera: power and reset-pin inputs, an ISAPI HTTP server, SADP answers.

This package is the test oracle for the rig's network checks, so it imports nothing from `rig`
(tests/test_sim_independent.py enforces it): what it knows about cameras is written down here,
not borrowed from the code it tests.

Modules:

* `spec`: `CameraSpec` (what a unit is and how it misbehaves), `firmware_version`, constants.
* `unit`: `SimCamera`, the power / boot / reset state machine and all the camera's state.
* `auth`: Digest parsing and checking, nonces, the per-IP lock-out.
* `bodies`: the XML documents ISAPI answers with.
* `isapi`: the HTTP server and its routes.
* `sadp`: the ProbeMatch a camera answers an inquiry with (`rig.sim.network` carries it).
"""

from .auth import LoginResult, parse_digest
from .spec import (
    ACTIVATION_FIRMWARE,
    ADMIN,
    FACTORY_DHCP,
    LOOPBACK,
    OLD_FACTORY_PASSWORD,
    SADP_DEVICE_TYPE_IPC,
    CameraSpec,
    LegacyActivated,
    firmware_version,
)
from .unit import Phase, SimCamera

__all__ = [
    "ACTIVATION_FIRMWARE",
    "ADMIN",
    "FACTORY_DHCP",
    "LOOPBACK",
    "OLD_FACTORY_PASSWORD",
    "SADP_DEVICE_TYPE_IPC",
    "CameraSpec",
    "LegacyActivated",
    "LoginResult",
    "Phase",
    "SimCamera",
    "firmware_version",
    "parse_digest",
]
