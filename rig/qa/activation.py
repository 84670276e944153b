"""Bench activation over ISAPI: the challenge exchange the camera's own web page does
(REFERENCE.md §1; qb60/hikvision-configure and two more public clients agree on it).

1. The rig makes an RSA-1024 key (e = 65537) and sends its modulus, as 256 lower-case hex
   characters, base64 encoded, in `POST /ISAPI/Security/challenge`.
2. The camera answers a random nonce encrypted to that key (PKCS#1 v1.5), again as base64 of
   hex text. Decrypted it is 32 ASCII hex characters, R.
3. The password travels AES-128-ECB encrypted with the key unhex(R): the plaintext is R[:16]
   followed by the password, zero-padded to a multiple of 16 bytes; sent as base64 of lower-
   case hex in `PUT /ISAPI/System/activate`.

Only the `cryptography` library does cryptography here; this module only shapes its inputs
and outputs as the camera expects them. The password is never kept: it goes in, the
encrypted body comes out.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from rig.errors import ParseError
from rig.network.xmlutil import child_text, parse_xml

__all__ = [
    "ACTIVATE_PATH",
    "CHALLENGE_PATH",
    "activate_body",
    "challenge_body",
    "decrypt_nonce",
    "encrypt_password",
    "new_key",
    "parse_challenge_answer",
    "public_key_text",
]

CHALLENGE_PATH = "/ISAPI/Security/challenge"
ACTIVATE_PATH = "/ISAPI/System/activate"
ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"
CHALLENGE_FORMS = ("PublicKey", "Challenge")
KEY_BITS = 1024  # what the camera's web page uses; the camera's RSA answer is sized to it
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


def new_key() -> rsa.RSAPrivateKey:
    """A fresh key per activation: nothing about it is kept."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def public_key_text(key: rsa.RSAPrivateKey) -> str:
    """The modulus as 128 big-endian bytes -> lower-case hex -> base64 of that ASCII text."""
    modulus = key.public_key().public_numbers().n
    hex_text = modulus.to_bytes(KEY_BITS // 8, "big").hex()
    return base64.b64encode(hex_text.encode("ascii")).decode("ascii")


def challenge_body(key: rsa.RSAPrivateKey, *, form: str = "PublicKey") -> bytes:
    """The body of `POST /ISAPI/Security/challenge`: the web page's `<PublicKey>`, or the
    `<Challenge>` form some devices take instead (REFERENCE.md §1, unconfirmed which)."""
    if form == "PublicKey":
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<PublicKey><key>{public_key_text(key)}</key></PublicKey>"
        ).encode("ascii")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Challenge version="2.0" xmlns="{ISAPI_NS}"><key>{public_key_text(key)}</key></Challenge>'
    ).encode("ascii")


def parse_challenge_answer(data: bytes) -> str:
    """The `<key>` of the camera's answer (root `PublicKey` or `Challenge`, any namespace)."""
    root = parse_xml(data, what="challenge answer")
    key = child_text(root, "key")
    if not key:
        raise ParseError("challenge answer has no <key>")
    return key.strip()


def _unwrap(text: str, what: str) -> bytes:
    """base64 of hex text -> the bytes the hex stands for."""
    try:
        hex_text = base64.b64decode(text, validate=True).decode("ascii").strip()
        return bytes.fromhex(hex_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ParseError(f"{what} is not base64 of hex text") from None


def decrypt_nonce(key: rsa.RSAPrivateKey, answer_key: str) -> str:
    """The 32 hex characters R the camera encrypted to our key."""
    ciphertext = _unwrap(answer_key, "challenge key")
    try:
        plain = key.decrypt(ciphertext, padding.PKCS1v15())
    except ValueError:
        raise ParseError("challenge key does not decrypt with the rig's key") from None
    try:
        nonce = plain.decode("ascii")
    except UnicodeDecodeError:
        raise ParseError("challenge nonce is not ASCII") from None
    if not _HEX32.fullmatch(nonce):
        raise ParseError(f"challenge nonce is not 32 hex characters (got {len(plain)} bytes)")
    return nonce


def encrypt_password(nonce: str, password: str) -> str:
    """AES-128-ECB, key unhex(R), of R[:16] + password zero-padded to 16 bytes -> base64 of
    lower-case hex: what `<ActivateInfo><password>` carries."""
    plain = (nonce[:16] + password).encode("utf-8")
    plain += b"\0" * (-len(plain) % 16)
    encryptor = Cipher(algorithms.AES(bytes.fromhex(nonce)), modes.ECB()).encryptor()
    sealed = encryptor.update(plain) + encryptor.finalize()
    return base64.b64encode(sealed.hex().encode("ascii")).decode("ascii")


def activate_body(nonce: str, password: str) -> bytes:
    """The body of `PUT /ISAPI/System/activate`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<ActivateInfo><password>{encrypt_password(nonce, password)}</password></ActivateInfo>"
    ).encode("ascii")
