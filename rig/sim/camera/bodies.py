"""The XML documents the simulated camera's ISAPI answers with, in the layout of the captures."""

from __future__ import annotations

import math
import uuid
from xml.sax.saxutils import escape

from .spec import CameraSpec

HIK_NS = "http://www.hikvision.com/ver20/XMLSchema"
ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"

UNAUTHORIZED_HTML = (
    b"<!DOCTYPE html><html><head><title>Document Error: Unauthorized</title></head><body>"
    b"<h2>Access Error: 401 -- Unauthorized</h2><p>Authentication Error</p></body></html>"
)
NOT_FOUND_HTML = (
    b"<!DOCTYPE html><html><head><title>Document Error: Not Found</title></head><body>"
    b"<h2>Access Error: 404 -- Not Found</h2><p>Cannot open URL</p></body></html>"
)


def xml_bool(value: bool) -> str:
    return "true" if value else "false"


def activate_status_xml(activated: bool) -> bytes:
    """`GET /SDK/activateStatus`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ActivateStatus version="2.0" xmlns="{HIK_NS}">\n'
        f"<Activated>{xml_bool(activated)}</Activated>\n"
        "</ActivateStatus>\n"
    ).encode()


def device_info_xml(spec: CameraSpec, firmware: str | None = None) -> bytes:
    """`GET /ISAPI/System/deviceInfo`: like the V5.5.0 capture, CRLF line ends."""
    version, _, build = (firmware or spec.firmware).partition("build")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<DeviceInfo version="2.0" xmlns="{HIK_NS}">',
        "<deviceName>IP CAMERA</deviceName>",
        f"<deviceID>{uuid.uuid5(uuid.NAMESPACE_OID, spec.mac)}</deviceID>",
        "<deviceDescription>IPCamera</deviceDescription>",
        "<deviceLocation>hangzhou</deviceLocation>",
        "<systemContact>Hikvision.China</systemContact>",
        f"<model>{escape(spec.model)}</model>",
        f"<serialNumber>{escape(spec.device_sn)}</serialNumber>",
        f"<macAddress>{spec.mac.replace('-', ':')}</macAddress>",
        f"<firmwareVersion>{escape(version.strip())}</firmwareVersion>",
    ]
    if build.strip():
        lines.append(f"<firmwareReleasedDate>build {escape(build.strip())}</firmwareReleasedDate>")
    lines += [
        "<encoderVersion>V7.3</encoderVersion>",
        "<encoderReleasedDate>build 230101</encoderReleasedDate>",
        "<bootVersion>V1.3.4</bootVersion>",
        "<bootReleasedDate>100316</bootReleasedDate>",
        "<hardwareVersion>0x0</hardwareVersion>",
        "<deviceType>IPCamera</deviceType>",
        "<telecontrolID>88</telecontrolID>",
        "<supportBeep>false</supportBeep>",
        "<supportVideoLoss>false</supportVideoLoss>",
        "</DeviceInfo>",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def user_check_xml(activated: bool, lock_remaining_s: float, attempts_left: int) -> bytes:
    """The body of a refused login: lock state, or the attempts left before the lock."""
    locked = lock_remaining_s > 0
    retry = 0 if locked else attempts_left
    return (
        f'<userCheck version="2.0" xmlns="{ISAPI_NS}">\n'
        "  <statusValue>401</statusValue>\n"
        "  <statusString>Unauthorized</statusString>\n"
        f"  <isActivated>{xml_bool(activated)}</isActivated>\n"
        f"  <lockStatus>{'lock' if locked else 'unlock'}</lockStatus>\n"
        f"  <unlockTime>{math.ceil(lock_remaining_s) if locked else 0}</unlockTime>\n"
        f"  <retryLoginTime>{retry}</retryLoginTime>\n"
        "</userCheck>\n"
    ).encode()


def response_status_xml(url: str, code: int, string: str, sub: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ResponseStatus version="2.0" xmlns="{HIK_NS}">\n'
        f"<requestURL>{escape(url)}</requestURL>\n"
        f"<statusCode>{code}</statusCode>\n"
        f"<statusString>{string}</statusString>\n"
        f"<subStatusCode>{sub}</subStatusCode>\n"
        "</ResponseStatus>\n"
    ).encode()
