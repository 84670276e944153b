"""The SADP wire format: the probe we send, the ProbeMatch a unit answers, and the rules that
turn its fields into values rig may use (a MAC that is an identity, a serial that matches a
label, a port and an address that are safe HTTP targets).

Nothing here touches a socket: bytes in, typed values out, `rig.errors.ParseError` otherwise.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass, field

from rig.errors import ParseError
from rig.network.version import FirmwareVersion, parse_firmware
from rig.network.xmlutil import (
    DEFAULT_MAX_BYTES,
    child_text,
    fields,
    name_is,
    parse_bool,
    parse_xml,
)

__all__ = [
    "RECORDER_SUFFIX_MAX",
    "SADP_MULTICAST",
    "ForeignReply",
    "SadpReply",
    "build_probe",
    "normalise_mac",
    "parse_probe_match",
    "serial_matches",
]

#: Where Hikvision's own SADP tool sends its probes.
SADP_MULTICAST: tuple[str, int] = ("239.255.255.250", 37020)

_UUID_RE = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
_MAC_RE = re.compile(r"[0-9a-f]{2}(?:([-:])[0-9a-f]{2})(?:\1[0-9a-f]{2}){4}|[0-9a-f]{12}")
# ASCII digits only: str.isdigit() also says yes to '³' and '²' (which int() then refuses)
# and to full-width or Arabic-Indic digits (which int() takes): a port is plain 0-9.
_PORT_RE = re.compile(r"[0-9]{1,5}")


class ForeignReply(ParseError):
    """A well-formed ProbeMatch answering someone else's probe (another SADP tool, or ours
    from an earlier window). Not an error of the sender: it is simply not for us."""

    def __init__(self, message: str, uuid: str) -> None:
        super().__init__(message)
        self.uuid = uuid


def build_probe(uuid: str) -> bytes:
    """The exact inquiry probe Hikvision's SADP tool sends, with `uuid` in upper case.

    The uuid must be in the canonical 8-4-4-4-12 form: it goes into the XML as is, and the
    reply's Uuid is compared with it.
    """
    if not _UUID_RE.fullmatch(uuid):
        raise ValueError(f"SADP probe uuid must be a canonical UUID, got {uuid!r}")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Probe><Uuid>{uuid.upper()}</Uuid><Types>inquiry</Types></Probe>"
    ).encode("ascii")


def normalise_mac(text: str | None) -> str:
    """`68:6D:BC:EE:F8:F0`, `68-6d-bc-ee-f8-f0` or `686dbceef8f0` -> `68-6d-bc-ee-f8-f0`.

    Raises ParseError for anything else, and for the all-zero and broadcast addresses: the MAC
    is the unit's identity, and those two would make different units look the same.
    """
    if text is None:
        raise ParseError("MAC is missing")
    value = text.strip().lower()
    if not _MAC_RE.fullmatch(value):
        raise ParseError(f"MAC {text.strip()[:40]!r} is not a MAC address")
    digits = value.replace("-", "").replace(":", "")
    if digits in ("000000000000", "ffffffffffff"):
        raise ParseError(f"MAC {text.strip()!r} cannot identify a unit")
    return "-".join(digits[i : i + 2] for i in range(0, 12, 2))


#: The longest letters-only suffix a recorder puts after the label serial in its DeviceSN
#: (`…CCCHD53257168WCVU`: label serial D53257168, suffix WCVU).
RECORDER_SUFFIX_MAX = 4

# Upper-case ASCII letters only: str.upper() would turn 'ß' into 'SS' and make a non-ASCII
# scan equal to an ASCII serial.
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_ASCII_LETTERS = frozenset(string.ascii_letters)


def serial_matches(device_sn: str | None, label_serial: str | None) -> bool:
    """Is `label_serial` (a scan of the unit's label) the serial this DeviceSN carries?

    The one rule for matching a scanned serial to what a unit reports (SADP DeviceSN, ISAPI
    serialNumber), case-insensitive and ignoring surrounding whitespace:

    - cameras end their DeviceSN with the label serial (`DS-2CD2385G1-I20200414AAWRE33842150`
      matches a scan of `E33842150`), so a DeviceSN that ends with the scan matches;
    - recorders add a short letters-only suffix after it (a DVR's `…CCCHD53257168WCVU` for
      the label serial `D53257168`), so a DeviceSN that ends with the scan followed by at
      most RECORDER_SUFFIX_MAX ASCII letters matches too, but only when the scan ends with a
      digit: a scan that ends with a letter would otherwise match a DeviceSN that merely
      continues with more letters (`…D53257168WC` is not `…D53257168WCVU`).

    An empty scan or an empty DeviceSN matches nothing. The scan may match several units (a
    short one, say); telling them apart is the caller's job.
    """
    if not device_sn or not label_serial:
        return False
    sn = device_sn.strip().translate(_ASCII_UPPER)
    wanted = label_serial.strip().translate(_ASCII_UPPER)
    if not wanted or not sn:
        return False
    if sn.endswith(wanted):
        return True
    if wanted[-1] not in string.digits:
        return False
    head = sn.rstrip(string.ascii_uppercase)
    suffix = len(sn) - len(head)
    return 1 <= suffix <= RECORDER_SUFFIX_MAX and head.endswith(wanted)


@dataclass(frozen=True)
class SadpReply:
    """One unit's ProbeMatch, the fields that matter parsed, everything kept in `raw`."""

    uuid: str
    mac: str  # normalised: lower case with dashes
    device_sn: str | None  # model + date + serial run together (recorders add a suffix)
    model: str | None  # DeviceDescription
    firmware: str | None  # SoftwareVersion as sent, e.g. "V5.7.3build 230222"
    ipv4: str | None
    http_port: int | None
    dhcp: bool | None
    boot_time: str | None
    # None: the unit did not say. Cameras on firmware before 5.3 may omit it; every real
    # reply we have carries it, whatever its firmware number (a DVR on V3.5.38 included).
    activated: bool | None
    raw: dict[str, str] = field(default_factory=dict, repr=False, hash=False, compare=False)
    xml: str = field(default="", repr=False, hash=False, compare=False)
    sender: str | None = None  # source address of the datagram, when it came off a socket

    def matches_serial(self, label_serial: str) -> bool:
        """Is `label_serial` (as printed on the unit's label) this unit's? See serial_matches."""
        return serial_matches(self.device_sn, label_serial)

    @property
    def firmware_version(self) -> FirmwareVersion | None:
        return parse_firmware(self.firmware)


def _port_or_none(text: str | None) -> int | None:
    if text is None or not _PORT_RE.fullmatch(text):
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def _ipv4_or_none(text: str | None) -> str | None:
    # The address is used later as an HTTP target, so only a real dotted quad gets through
    # (ipaddress itself accepts ASCII digits only).
    if not text:
        return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def parse_probe_match(
    data: bytes, *, expect_uuid: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> SadpReply:
    """Parse one SADP datagram. Field names in any case; unknown fields kept in `raw`.

    Raises ForeignReply if the Uuid is not `expect_uuid` (case-insensitive), ParseError for
    anything that is not a ProbeMatch with a Uuid and a valid MAC.
    """
    root = parse_xml(data, max_bytes=max_bytes, what="SADP reply")
    if not name_is(root, "ProbeMatch"):
        raise ParseError(f"SADP reply is a <{str(root.tag)[:40]}>, not a <ProbeMatch>")
    reply_uuid = child_text(root, "Uuid")
    if not reply_uuid:
        raise ParseError("SADP reply has no Uuid")
    if expect_uuid is not None and reply_uuid.casefold() != expect_uuid.strip().casefold():
        raise ForeignReply(f"SADP reply answers probe {reply_uuid[:40]!r}, not ours", reply_uuid)
    mac = normalise_mac(child_text(root, "MAC"))

    def text(name: str) -> str | None:
        return child_text(root, name) or None  # an empty element says nothing

    return SadpReply(
        uuid=reply_uuid,
        mac=mac,
        device_sn=text("DeviceSN"),
        model=text("DeviceDescription"),
        firmware=text("SoftwareVersion"),
        ipv4=_ipv4_or_none(text("IPv4Address")),
        http_port=_port_or_none(text("HttpPort")),
        dhcp=parse_bool(text("DHCP")),
        boot_time=text("BootTime"),
        activated=parse_bool(text("Activated")),
        raw=fields(root),
        xml=bytes(data).decode("utf-8-sig"),  # parse_xml proved it is UTF-8
    )
