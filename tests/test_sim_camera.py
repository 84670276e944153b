"""The simulated camera (rig.sim): SADP and ISAPI on loopback, driven by power and pin inputs.

Timings are scaled down (boot 0.2 s, reset hold 0.3 s); every wait polls with a deadline so a
slow machine makes a test slower, not flaky.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
import requests
from requests.auth import HTTPDigestAuth

from rig.sim import CameraSpec, SimCamera, SimNetwork
from tests.fakes import wait_until

BOOT_S = 0.2
HOLD_S = 0.3
PASSWORD = "Bench-Secret-1"
PROBE = '<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>{}</Uuid><Types>inquiry</Types></Probe>'


def fast_spec(n: int = 1, **changes: Any) -> CameraSpec:
    values: dict[str, Any] = {"boot_s": BOOT_S, "reset_hold_s": HOLD_S}
    values.update(changes)
    return CameraSpec.sample(n, **values)


def _fields(data: bytes) -> dict[str, str] | None:
    try:
        root = SafeET.fromstring(data)
    except Exception:
        return None
    if root.tag != "ProbeMatch":
        return None
    return {child.tag: (child.text or "") for child in root}


def sadp(
    net: SimNetwork, body: str | None = None, timeout: float = 0.25, expect: int | None = None
) -> tuple[list[dict[str, str]], list[bytes]]:
    """Send one request from a plain UDP socket; (parsed ProbeMatches, raw datagrams).

    Listens `timeout` seconds, or until `expect` matches have arrived.
    """
    probe_uuid = str(uuid.uuid4()).upper()
    payload = (body or PROBE).format(probe_uuid).encode()
    matches: list[dict[str, str]] = []
    raw: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.sendto(payload, net.address)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                break
            raw.append(data)
            fields = _fields(data)
            if fields is not None and fields.get("Uuid") == probe_uuid:
                matches.append(fields)
                if len(matches) == expect:
                    break
    return matches, raw


def probe(net: SimNetwork, expect: int | None = None) -> list[dict[str, str]]:
    return sadp(net, expect=expect)[0]


def activate_status(cam: SimCamera) -> requests.Response:
    return requests.get(f"{cam.base_url}/SDK/activateStatus", timeout=2)


def device_info(cam: SimCamera, password: str, user: str = "admin") -> requests.Response:
    return requests.get(
        f"{cam.base_url}/ISAPI/System/deviceInfo", auth=HTTPDigestAuth(user, password), timeout=2
    )


def hard_reset(cam: SimCamera, hold_s: float) -> None:
    """The documented procedure: cut, press, power on, hold from power-on, release."""
    cam.power_off()
    cam.pin_down()
    cam.power_on()
    time.sleep(hold_s)
    cam.pin_up()


def _sim_threads() -> list[str]:
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("rig.sim") or "process_request_thread" in t.name
    ]


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    yield
    assert wait_until(lambda: not _sim_threads(), 2) is not None, _sim_threads()


@pytest.fixture
def net() -> Iterator[SimNetwork]:
    with SimNetwork() as network:
        yield network


@pytest.fixture
def make_cam(net: SimNetwork) -> Iterator[Callable[..., SimCamera]]:
    cams: list[SimCamera] = []

    def make(n: int = 1, online: bool = True, **changes: Any) -> SimCamera:
        cam = SimCamera(fast_spec(n, **changes)).start(online=online)
        cams.append(cam)
        net.add(cam)
        return cam

    yield make
    for cam in cams:
        cam.stop()


def test_online_at_start_answers_sadp_and_activate_status(
    net: SimNetwork, make_cam: Callable[..., SimCamera]
) -> None:
    cam = make_cam()
    [match] = probe(net)  # listens the whole window: exactly one answer
    assert match["MAC"] == cam.spec.mac
    assert match["DeviceSN"] == cam.spec.device_sn
    assert match["DeviceDescription"] == cam.spec.model
    assert match["SoftwareVersion"] == cam.spec.firmware
    assert match["IPv4Address"] == "127.0.0.1"
    assert match["HttpPort"] == str(cam.http_port)
    assert match["Activated"] == "true"
    assert match["DHCP"] == "true"
    assert match["Types"] == "inquiry"
    response = activate_status(cam)
    assert response.status_code == 200
    root = SafeET.fromstring(response.content)
    assert root.tag == "{http://www.hikvision.com/ver20/XMLSchema}ActivateStatus"
    assert root[0].text == "true"
    assert cam.requests_seen == [("GET", "/SDK/activateStatus")]


def test_device_info_with_digest(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam()
    unauthenticated = requests.get(f"{cam.base_url}/ISAPI/System/deviceInfo", timeout=2)
    assert unauthenticated.status_code == 401
    challenge = unauthenticated.headers["WWW-Authenticate"]
    assert challenge.startswith('Digest qop="auth", realm="IP Camera(')
    assert unauthenticated.headers["Server"] == "App-webs/"
    response = device_info(cam, PASSWORD)
    assert response.status_code == 200
    info = {child.tag.split("}")[1]: child.text for child in SafeET.fromstring(response.content)}
    assert info["model"] == cam.spec.model
    assert info["serialNumber"] == cam.spec.device_sn
    assert info["macAddress"] == cam.spec.mac.replace("-", ":")
    assert info["firmwareVersion"] == "V5.7.3"
    assert b"\r\n" in response.content
    assert cam.logins == [("admin", True)]  # the challenge round is not a login


def test_power_off_is_silent(net: SimNetwork, make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam()
    cam.power_off()
    assert not cam.online
    assert probe(net) == []
    with pytest.raises(requests.ConnectionError):
        activate_status(cam)


def test_power_cut_resets_a_kept_alive_connection(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam()
    with requests.Session() as session:
        url = f"{cam.base_url}/SDK/activateStatus"
        assert session.get(url, timeout=2).status_code == 200
        cam.power_off()
        with pytest.raises(requests.ConnectionError):
            session.get(url, timeout=2)


def test_power_cycle_without_pin_comes_back_activated(
    net: SimNetwork, make_cam: Callable[..., SimCamera]
) -> None:
    cam = make_cam()
    boot_before = probe(net, expect=1)[0]["BootTime"]
    cam.power_off()
    time.sleep(1.05)  # BootTime has one-second resolution
    cam.power_on()
    started = time.monotonic()
    assert not cam.online
    assert wait_until(lambda: cam.online) is not None
    assert time.monotonic() - started >= BOOT_S - 0.01
    [match] = probe(net, expect=1)
    assert match["Activated"] == "true"
    assert match["BootTime"] != boot_before
    assert cam.activated and cam.resets == 0 and cam.power_cycles == 1
    assert device_info(cam, PASSWORD).status_code == 200


def test_pin_held_through_power_up_resets(
    net: SimNetwork, make_cam: Callable[..., SimCamera]
) -> None:
    cam = make_cam()
    cam.power_off()
    cam.pin_down()
    cam.power_on()
    time.sleep(HOLD_S + BOOT_S)
    assert not cam.online  # still held: the bootloader waits for the release
    cam.pin_up()
    released = time.monotonic()
    assert wait_until(lambda: cam.online) is not None
    assert time.monotonic() - released >= BOOT_S - 0.01
    [match] = probe(net, expect=1)
    assert match["Activated"] == "false"
    assert match["DHCP"] == "false"
    assert SafeET.fromstring(activate_status(cam).content)[0].text == "false"
    assert cam.resets == 1 and cam.last_reset == "hard" and cam.in_factory_state
    # An inactive camera has no password: logins are refused, and not counted as failures.
    for _ in range(2):
        refused = device_info(cam, PASSWORD)
        assert refused.status_code == 401
        assert b"<isActivated>false</isActivated>" in refused.content
    assert cam.logins == [("admin", False), ("admin", False)]


def test_pin_held_too_short_does_not_reset(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam()
    hard_reset(cam, HOLD_S / 3)
    assert wait_until(lambda: cam.online) is not None
    assert cam.activated and cam.resets == 0


def test_pin_pressed_after_power_up_is_ignored(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam()
    cam.power_off()
    cam.power_on()
    cam.pin_down()
    time.sleep(HOLD_S + 0.05)
    cam.pin_up()
    assert wait_until(lambda: cam.online) is not None
    assert cam.activated and cam.resets == 0


def test_old_firmware_omits_activated_and_resets_to_12345(
    net: SimNetwork, make_cam: Callable[..., SimCamera]
) -> None:
    cam = make_cam(firmware="V5.2.5build 141201", password="Old-Secret")
    [match] = probe(net, expect=1)
    assert "Activated" not in match
    assert activate_status(cam).status_code == 404
    hard_reset(cam, HOLD_S + 0.05)
    assert wait_until(lambda: cam.online) is not None
    assert "Activated" not in probe(net, expect=1)[0]
    response = device_info(cam, "12345")
    assert response.status_code == 200
    assert cam.logins == [("admin", True)]
    assert cam.in_factory_state


def test_old_firmware_with_a_permanent_activated_true(
    net: SimNetwork, make_cam: Callable[..., SimCamera]
) -> None:
    # Some old units say Activated true whatever their state: it must not hide that the
    # factory state (admin/12345) is back after a reset.
    cam = make_cam(
        firmware="V5.2.5build 141201", password="Old-Secret", sadp_legacy_activated="true"
    )
    assert not cam.spec.has_activation
    [match] = probe(net, expect=1)
    assert match["Activated"] == "true"
    # Only the tag: the activation-era fields stay absent, as on other old firmware.
    assert not {"Encrypt", "Salt", "PasswordResetAbility", "DeviceLock"} & match.keys()
    assert activate_status(cam).status_code == 404
    assert device_info(cam, "12345").status_code == 401  # not in factory state yet
    hard_reset(cam, HOLD_S + 0.05)
    assert wait_until(lambda: cam.online) is not None
    assert cam.last_reset == "hard" and cam.in_factory_state
    assert probe(net, expect=1)[0]["Activated"] == "true"  # still, after the reset
    assert activate_status(cam).status_code == 404
    assert device_info(cam, "12345").status_code == 200
    assert cam.logins == [("admin", False), ("admin", True)]


@pytest.mark.parametrize(
    "firmware",
    [
        "V5.2.3build 170725",  # an EZVIZ camera
        "V3.5.38build 191215",  # a DVR
        "V1.5.0build 200101",  # an intercom
    ],
)
def test_low_firmware_number_with_activation_reports_it_truthfully(
    net: SimNetwork, make_cam: Callable[..., SimCamera], firmware: str
) -> None:
    cam = make_cam(firmware=firmware, has_activation=True)
    [match] = probe(net, expect=1)
    assert match["SoftwareVersion"] == firmware
    assert match["Activated"] == "true"
    assert match["Encrypt"] == "true" and match["Salt"]
    assert SafeET.fromstring(activate_status(cam).content)[0].text == "true"
    assert device_info(cam, PASSWORD).status_code == 200
    hard_reset(cam, HOLD_S + 0.05)
    assert wait_until(lambda: cam.online) is not None
    assert cam.in_factory_state and not cam.activated and cam.password is None
    assert probe(net, expect=1)[0]["Activated"] == "false"
    assert SafeET.fromstring(activate_status(cam).content)[0].text == "false"
    # Inactive: no default password to log in with; refused, and not counted as a failure.
    refused = device_info(cam, "12345")
    assert refused.status_code == 401
    assert b"<isActivated>false</isActivated>" in refused.content
    assert b"<retryLoginTime>7</retryLoginTime>" in refused.content


@pytest.mark.parametrize(
    ("firmware", "has_activation", "expected"),
    [
        ("V5.2.5build 141201", None, False),  # derived from the number, as before
        ("V5.3.0build 150101", None, True),
        ("V5.7.3build 230222", None, True),
        ("V3.5.38build 191215", True, True),
        ("V5.7.3build 230222", False, False),  # an override goes both ways
    ],
)
def test_has_activation_defaults_to_the_firmware_number(
    firmware: str, has_activation: bool | None, expected: bool
) -> None:
    spec = CameraSpec.sample(firmware=firmware, has_activation=has_activation)
    assert spec.has_activation is expected
    assert spec.sadp_legacy_activated == "omit"


def test_legacy_activated_is_only_for_units_without_activation() -> None:
    assert (
        CameraSpec.sample(firmware="V5.2.5", sadp_legacy_activated="true").has_activation is False
    )
    with pytest.raises(ValueError, match="sadp_legacy_activated"):
        CameraSpec.sample(sadp_legacy_activated="true")  # V5.7.3: has activation
    with pytest.raises(ValueError, match="sadp_legacy_activated"):
        CameraSpec.sample(firmware="V3.5.38", has_activation=True, sadp_legacy_activated="true")
    with pytest.raises(ValueError, match="sadp_legacy_activated"):
        CameraSpec.sample(firmware="V5.2.5", sadp_legacy_activated="false")


def test_wrong_password_counts_and_locks(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam(lock_after_failures=3, lock_s=0.5)
    assert requests.get(f"{cam.base_url}/ISAPI/System/deviceInfo", timeout=2).status_code == 401
    assert cam.logins == []  # no credentials: not a failed login
    first = device_info(cam, "wrong")
    assert first.status_code == 401
    assert b"<lockStatus>unlock</lockStatus>" in first.content
    assert b"<retryLoginTime>2</retryLoginTime>" in first.content
    assert device_info(cam, "wrong").status_code == 401
    third = device_info(cam, "wrong")
    assert b"<lockStatus>lock</lockStatus>" in third.content
    assert b"<unlockTime>1</unlockTime>" in third.content
    locked = device_info(cam, PASSWORD)  # the right password does not get in while locked
    assert locked.status_code == 401
    assert b"<lockStatus>lock</lockStatus>" in locked.content
    assert cam.logins == [("admin", False)] * 4
    time.sleep(0.55)
    assert device_info(cam, PASSWORD).status_code == 200
    assert device_info(cam, PASSWORD, user="operator").status_code == 401


def test_dead_never_returns(net: SimNetwork, make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam(dead=True)
    assert len(probe(net, expect=1)) == 1
    cam.power_off()
    cam.power_on()
    assert wait_until(lambda: cam.online, BOOT_S * 3) is None
    assert probe(net) == []
    assert cam.phase == "dead"


def test_reboot_loop_comes_and_goes(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam(reboot_loop=True, boot_s=0.1, up_s=0.15, down_s=0.15)
    assert cam.online  # steady until its first power-up
    cam.power_off()
    cam.power_on()
    for _ in range(2):
        assert wait_until(lambda: cam.online, 1) is not None
        assert wait_until(lambda: not cam.online, 1) is not None
    assert wait_until(lambda: cam.online, 1) is not None


def test_ignores_power_cut_keeps_answering(
    net: SimNetwork, make_cam: Callable[..., SimCamera]
) -> None:
    cam = make_cam(ignores_power_cut=True)
    cam.power_off()
    assert cam.online
    assert len(probe(net, expect=1)) == 1
    assert activate_status(cam).status_code == 200
    cam.pin_down()
    cam.power_on()
    time.sleep(HOLD_S + 0.05)
    cam.pin_up()
    assert cam.online and cam.activated and cam.power_cycles == 0


def test_two_cameras_on_one_network_both_answer(
    net: SimNetwork, make_cam: Callable[..., SimCamera]
) -> None:
    bay = make_cam(1)
    foreign = make_cam(2)
    matches = probe(net, expect=2)
    assert {m["MAC"] for m in matches} == {bay.spec.mac, foreign.spec.mac}
    assert {m["HttpPort"] for m in matches} == {str(bay.http_port), str(foreign.http_port)}
    bay.power_off()
    assert [m["MAC"] for m in probe(net)] == [foreign.spec.mac]


def test_software_factory_reset_then_reboot(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam()
    auth = HTTPDigestAuth("admin", PASSWORD)
    reset = requests.put(
        f"{cam.base_url}/ISAPI/System/factoryReset?mode=full", auth=auth, timeout=2
    )
    assert reset.status_code == 200
    assert b"<statusCode>7</statusCode>" in reset.content
    assert cam.activated  # applied at the next boot
    reboot = requests.put(f"{cam.base_url}/ISAPI/System/reboot", auth=auth, timeout=2)
    assert reboot.status_code == 200
    assert b"<statusCode>1</statusCode>" in reboot.content
    assert wait_until(lambda: not cam.online, 1) is not None
    assert wait_until(lambda: cam.online) is not None
    assert not cam.activated and cam.last_reset == "full"
    assert SafeET.fromstring(activate_status(cam).content)[0].text == "false"


def test_basic_restore_keeps_activation_and_network(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam()
    auth = HTTPDigestAuth("admin", PASSWORD)
    url = f"{cam.base_url}/ISAPI/System/factoryReset?mode=basic"
    assert requests.put(url, auth=auth, timeout=2).status_code == 200
    cam.power_off()
    cam.power_on()
    assert wait_until(lambda: cam.online) is not None
    assert cam.activated and cam.dhcp and cam.resets == 1 and cam.last_reset == "basic"
    assert device_info(cam, PASSWORD).status_code == 200


def test_junk_datagrams(net: SimNetwork, make_cam: Callable[..., SimCamera]) -> None:
    make_cam()
    net.junk_every = 1
    matches, raw = sadp(net)
    assert len(matches) == 1 and len(raw) == 2
    assert net.junk_sent == 1


def test_watch_follows_two_callables(make_cam: Callable[..., SimCamera]) -> None:
    cam = make_cam()
    relay = {"power": True, "pin": False}
    cam.watch(lambda: relay["power"], lambda: relay["pin"], poll_s=0.002)
    relay["power"] = False
    assert wait_until(lambda: not cam.online, 1) is not None
    relay["pin"] = True
    time.sleep(0.02)
    relay["power"] = True
    time.sleep(HOLD_S + 0.05)
    relay["pin"] = False
    assert wait_until(lambda: cam.online) is not None
    assert not cam.activated and cam.resets == 1 and cam.power_cycles == 1
    cam.unwatch()


def test_start_unpowered_and_context_manager() -> None:
    with SimNetwork() as net, SimCamera(fast_spec()) as cam:
        net.add(cam)
        assert cam.online
    cold = SimCamera(fast_spec(2)).start(online=False)
    try:
        assert not cold.online and not cold.powered
        cold.power_on()
        assert wait_until(lambda: cold.online) is not None
    finally:
        cold.stop()
