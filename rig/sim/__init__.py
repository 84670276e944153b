"""Simulated hardware for tests and `rig demo`: Hikvision cameras on loopback, and the
actuator board (the firmware's own logic behind a pty).

Everything binds to 127.0.0.1 and answers only loopback addresses.

    with SimNetwork() as net, SimCamera(CameraSpec.sample(1, boot_s=0.2)) as cam:
        net.add(cam)
        cam.watch(lambda: relay_is_closed(), lambda: solenoid_is_on())
        ...  # point the rig's sadp_target at net.target
"""

from rig.sim.board import SimBoard
from rig.sim.camera import CameraSpec, SimCamera, firmware_version
from rig.sim.network import SimNetwork

__all__ = ["CameraSpec", "SimBoard", "SimCamera", "SimNetwork", "firmware_version"]
