"""What the simulated camera does for a bench QA pass: the activation challenge (with its own
nonce, encrypted to the client's key), the password it accepts, the snapshot of its test
scene, its memory card and its firmware upgrade. Written from the published clients' side of
the exchange (REFERENCE.md §1), never from the rig's code.

* `POST /ISAPI/Security/challenge` with `<PublicKey><key>` = base64 of the hex of the
  client's RSA-1024 modulus: the camera draws 16 random bytes, R = their 32 hex characters,
  encrypts R (PKCS#1 v1.5, e = 65537) and answers `<Challenge><key>` = base64 of the hex.
* `PUT /ISAPI/System/activate` `<ActivateInfo><password>`: base64 of hex of AES-128-ECB
  (key unhex(R)) of R[:16] + password, zero padded. A password that is not 8-16 characters
  of at least two kinds is refused: HTTP 400, statusCode 4, statusString "Risk password".
* Snapshots: a test chart (squares, bars, a gradient) with fresh sensor noise per frame, or a
  fault: "black" (covered lens), "blurred" (out of focus), "frozen" (the same frame again).
"""

from __future__ import annotations

import base64
import io
import os
import re
import xml.etree.ElementTree as ET
from functools import cache
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .bodies import HIK_NS, ISAPI_NS

PictureFault = Literal["ok", "black", "blurred", "frozen"]
SCENE_SIZE = (640, 360)
_HEX = re.compile(r"[0-9a-fA-F]+")


class Refused(Exception):
    """The request is refused: (HTTP status, statusCode, statusString, subStatusCode)."""

    def __init__(self, http: int, code: int, string: str, sub: str) -> None:
        super().__init__(string)
        self.http, self.code, self.string, self.sub = http, code, string, sub


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text_of(body: bytes, name: str) -> str:
    try:
        root = ET.fromstring(body.decode("utf-8"))
    except (ET.ParseError, UnicodeDecodeError):
        raise Refused(400, 5, "Invalid XML Format", "badXmlFormat") from None
    for elem in root.iter():
        if _local(elem.tag) == name and elem.text and elem.text.strip():
            return elem.text.strip()
    raise Refused(400, 6, "Invalid XML Content", "badXmlContent")


def _from_b64_hex(text: str) -> bytes:
    try:
        hex_text = base64.b64decode(text, validate=True).decode("ascii").strip()
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, 6, "Invalid XML Content", "badParameters") from None
    if not _HEX.fullmatch(hex_text) or len(hex_text) % 2:
        raise Refused(400, 6, "Invalid XML Content", "badParameters")
    return bytes.fromhex(hex_text)


def _b64_hex(data: bytes) -> str:
    return base64.b64encode(data.hex().encode("ascii")).decode("ascii")


def answer_challenge(body: bytes) -> tuple[str, bytes]:
    """(R, the answer body) for a challenge request."""
    modulus = int.from_bytes(_from_b64_hex(_text_of(body, "key")), "big")
    if modulus.bit_length() < 1000:
        raise Refused(400, 6, "Invalid XML Content", "badParameters")
    public = rsa.RSAPublicNumbers(65537, modulus).public_key()
    nonce = os.urandom(16).hex()
    sealed = public.encrypt(nonce.encode("ascii"), padding.PKCS1v15())
    answer = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Challenge version="2.0" xmlns="{ISAPI_NS}">\n'
        f"<key>{_b64_hex(sealed)}</key>\n"
        "</Challenge>\n"
    ).encode()
    return nonce, answer


def activation_password(body: bytes, nonce: str) -> str:
    """The password an activate request carries, checked against the nonce it was sealed to."""
    sealed = _from_b64_hex(_text_of(body, "password"))
    if not sealed or len(sealed) % 16:
        raise Refused(400, 6, "Invalid XML Content", "badParameters")
    decryptor = Cipher(algorithms.AES(bytes.fromhex(nonce)), modes.ECB()).decryptor()
    plain = decryptor.update(sealed) + decryptor.finalize()
    if plain[:16] != nonce[:16].encode("ascii"):
        raise Refused(400, 4, "Invalid Operation", "badParameters")
    try:
        return plain[16:].rstrip(b"\0").decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, 6, "Invalid XML Content", "badParameters") from None


def risky(password: str) -> bool:
    """The camera's own rule: 8-16 characters, at least two kinds."""
    if not 8 <= len(password) <= 16:
        return True
    kinds = [
        any(c.isdigit() for c in password),
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(not c.isalnum() for c in password),
    ]
    return sum(kinds) < 2


# --- the picture -----------------------------------------------------------------------------


@cache
def _chart() -> Image.Image:
    """The bench's test chart: sharp edges at several scales, a grey ramp, some lines."""
    width, height = SCENE_SIZE
    chart = Image.new("L", SCENE_SIZE, 128)
    draw = ImageDraw.Draw(chart)
    for x in range(0, width // 2, 32):
        for y in range(0, height, 32):
            if (x // 32 + y // 32) % 2 == 0:
                draw.rectangle((x, y, x + 31, y + 31), fill=230)
            else:
                draw.rectangle((x, y, x + 31, y + 31), fill=30)
    for i, x in enumerate(range(width // 2, width, 8)):
        draw.rectangle((x, 0, x + 3, height // 2), fill=240 if i % 2 else 20)
    for x in range(width // 2, width):
        shade = int(255 * (x - width // 2) / (width // 2))
        draw.line((x, height // 2, x, height - 1), fill=shade)
    return chart


def snapshot(fault: str) -> bytes:
    """One JPEG frame of the scene the unit sees, with this frame's own sensor noise."""
    # Gaussian around 128, about what is left after a camera's own noise reduction.
    noise = Image.effect_noise(SCENE_SIZE, 1.5)
    if fault == "black":
        scene = Image.new("L", SCENE_SIZE, 6)
    elif fault == "blurred":
        scene = _chart().filter(ImageFilter.GaussianBlur(6))
    else:
        scene = _chart()
    frame = ImageChops.add(scene, noise, scale=1.0, offset=-128)
    out = io.BytesIO()
    frame.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()


# --- storage and upgrade -----------------------------------------------------------------------


def storage_xml(card_mb: int | None) -> bytes:
    """`GET /ISAPI/ContentMgmt/Storage`: the card as hdd1, or an empty list with no card."""
    hdd = ""
    if card_mb is not None:
        hdd = (
            "<hdd>\n<id>1</id>\n<hddName>hdd1</hddName>\n<hddPath></hddPath>\n"
            "<hddType>SD</hddType>\n<status>ok</status>\n"
            f"<capacity>{card_mb}</capacity>\n<freeSpace>{card_mb - 512}</freeSpace>\n"
            "<property>RW</property>\n</hdd>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<storage version="2.0" xmlns="{ISAPI_NS}">\n'
        f"<hddList>\n{hdd}</hddList>\n<nasList>\n</nasList>\n"
        "<workMode>group</workMode>\n</storage>\n"
    ).encode()


def upgrade_status_xml(upgrading: bool, percent: int) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<upgradeStatus version="2.0" xmlns="{HIK_NS}">\n'
        f"<upgrading>{'true' if upgrading else 'false'}</upgrading>\n"
        f"<percent>{percent}</percent>\n</upgradeStatus>\n"
    ).encode()
