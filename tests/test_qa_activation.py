"""The activation exchange (rig.qa.activation), on golden vectors: a fixed RSA-1024 key and a
fixed challenge give these exact request bodies (REFERENCE.md §1 describes every step)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from rig.errors import ParseError
from rig.qa import activation
from rig.qa.password import weakness

KEY_PEM = b"""-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBALikGH3QLFjt1hNM
JMoMFyJsfXdTi01b9X35M7M6ShhMFTBGSD3Ml2Q1XDsg08nYV8CClWWJqQ0Roc1c
oSUrJHdTv8DIrSF3JIR/afhD5u7B6itz1ygdS75U04PGvessYax6pwboxF1E9fcs
q0ugGl1sXojU/EzxiPPyHESRvhAtAgMBAAECgYAuLp0Rmuf8tkA9Q2ZQQwXmTkxz
dCn7h2y3vYT45zNxMFZ8ZJfdHTcgkVgoUeWnLr2EISVM6EmoQyi9PNXxfgD4ioDn
td5JlBHDTC47WwkEJOFoFaPC/vqTZ9/oMSmQjpwPSNtdKkoOp2tmbSwEAhC9xmft
ooY1e91fqjbgvweLAQJBAO2wLExY0l4cK/48Rx8YMjwDBlwle4DNupM8Iq2xQzeU
HmizXIyyijLLT9sdyHW/Z40X32+oeEnhFQgtWGVmcNUCQQDG3bHdkCnUQ5OiA3hG
2P6GEOwCpOupphU1m6BM3ybEQSgLCe980Ndrtz5cYmPV8oOQ+aLcVZRnZHk4SvTT
oY35AkEAq0kV4z7u+praqS/PIP1S1iRn5OeuBLg9B/WCGCFyCw9WiqUWwN248bnK
JmFkIFZ6zRazEcgaR0NI4MesuAYGsQJADpF1EzcZaVxd91NrvzzsQGQC9hqgzPfG
u/ufnaIHU/818MEUkz81WMW+wsPOboDqlHdFMADw8zYQD0imcM53+QJANX3/rwra
rMg3T23e7fA+KZQtVhMPMC93c5YCB0r4SyYy9AmYMmlfFvF8+ZlxgjkbwpmRDb4x
a3S/lbjMJoVREQ==
-----END PRIVATE KEY-----
"""
NONCE = "3f9a0c1b7e2d4a6c8b0e1f2a3c4d5e6f"
# The camera's <key>: NONCE encrypted to KEY (PKCS#1 v1.5), as base64 of hex text.
ANSWER_KEY = (
    "NTAwOWZjY2ZmMTM1NmQ0NDM4YWZhMzMyM2E1NTllN2ZmMWMyYTI0MjYyMzIxZTEzNTcwMjg0ZTg4NjRlNTM4ZWMw"
    "YjcxMjIxYTk2NTQyY2VjOTVhYmJhZjkxMDU3ZjkyNmFkYWZhZDkyZDBlODY5Zjk2NDNmNWQ5ODBjNTQ5NjMwNmY5"
    "YmJkN2ZlY2MxNTRlMGFkMTVjMDdlNjE0MzU2ZjQzYTI1NGFhNTNjY2ZjMTcxZjkzMTA0NjRlNjUzMTU3MGQxYjUx"
    "OTM5OTQ3NTg1NDcyYWE3ZjdiZTBhODZlNWUxZWIyZWNhMzIxZTc5NzgzNDViZWU5N2EzOWQ2NTMxMg=="
)
PASSWORD = "Bench-Pass-2026"
CHALLENGE_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?><PublicKey><key>'
    b"YjhhNDE4N2RkMDJjNThlZGQ2MTM0YzI0Y2EwYzE3MjI2YzdkNzc1MzhiNGQ1YmY1N2RmOTMzYjMzYTRhMTg0YzE1"
    b"MzA0NjQ4M2RjYzk3NjQzNTVjM2IyMGQzYzlkODU3YzA4Mjk1NjU4OWE5MGQxMWExY2Q1Y2ExMjUyYjI0Nzc1M2Jm"
    b"YzBjOGFkMjE3NzI0ODQ3ZjY5Zjg0M2U2ZWVjMWVhMmI3M2Q3MjgxZDRiYmU1NGQzODNjNmJkZWIyYzYxYWM3YWE3"
    b"MDZlOGM0NWQ0NGY1ZjcyY2FiNGJhMDFhNWQ2YzVlODhkNGZjNGNmMTg4ZjNmMjFjNDQ5MWJlMTAyZA=="
    b"</key></PublicKey>"
)
ACTIVATE_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?><ActivateInfo><password>'
    b"MjBiYWRmZWJkMmQyMjg2YzYyZGI1ZTFiZGM0OWMxMzFiZmNmY2YzNmJkZDA4MmM4ZGVmMTQ2MWRiMjJiNDAxYw=="
    b"</password></ActivateInfo>"
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    loaded = serialization.load_pem_private_key(KEY_PEM, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def test_the_challenge_request_body_is_exact(key: rsa.RSAPrivateKey) -> None:
    assert activation.challenge_body(key) == CHALLENGE_BODY


def test_the_public_key_is_base64_of_the_modulus_in_lower_hex(key: rsa.RSAPrivateKey) -> None:
    text = base64.b64decode(activation.public_key_text(key)).decode()
    assert len(text) == 256 and text == text.lower()
    assert int(text, 16) == key.public_key().public_numbers().n
    assert key.public_key().public_numbers().e == 65537


def test_the_camera_answer_decrypts_to_the_nonce(key: rsa.RSAPrivateKey) -> None:
    answer = f"<Challenge xmlns='http://www.isapi.org/ver20/XMLSchema'><key>{ANSWER_KEY}</key></Challenge>"
    assert (
        activation.decrypt_nonce(key, activation.parse_challenge_answer(answer.encode())) == NONCE
    )


def test_the_activate_request_body_is_exact() -> None:
    assert activation.activate_body(NONCE, PASSWORD) == ACTIVATE_BODY


def test_the_password_block_is_nonce_half_then_password_zero_padded() -> None:
    """Read back independently: AES-128-ECB with key unhex(R), of R[:16] + password + zeros."""
    sealed = bytes.fromhex(base64.b64decode(activation.encrypt_password(NONCE, PASSWORD)).decode())
    decryptor = Cipher(algorithms.AES(bytes.fromhex(NONCE)), modes.ECB()).decryptor()
    plain = decryptor.update(sealed) + decryptor.finalize()
    assert plain == (NONCE[:16] + PASSWORD).encode() + b"\0" * (32 - 16 - len(PASSWORD))
    assert len(sealed) == 32


def test_a_fresh_key_round_trips_with_the_simulated_camera() -> None:
    """The simulator's side (written on its own, rig.sim.camera.qa) agrees with the rig's."""
    from rig.sim.camera import qa as device

    key = activation.new_key()
    nonce, answer = device.answer_challenge(activation.challenge_body(key))
    r = activation.decrypt_nonce(key, activation.parse_challenge_answer(answer))
    assert r == nonce
    body = activation.activate_body(r, PASSWORD)
    assert device.activation_password(body, nonce) == PASSWORD
    assert PASSWORD not in body.decode()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"<Challenge><key></key></Challenge>", "no <key>"),
        (b"<Challenge><key>not base64!</key></Challenge>", "not base64 of hex"),
        (b"<Challenge><key>" + base64.b64encode(b"abcd") + b"</key></Challenge>", "decrypt"),
        (b"garbage", "not well-formed"),
    ],
)
def test_a_malformed_challenge_answer_is_one_parse_error(
    key: rsa.RSAPrivateKey, answer: bytes, message: str
) -> None:
    with pytest.raises(ParseError, match=message):
        activation.decrypt_nonce(key, activation.parse_challenge_answer(answer))


@pytest.mark.parametrize(
    ("password", "weak"),
    [("abc", True), ("abcdefgh", True), ("abcdefg1", False), ("A" * 17, True), (PASSWORD, False)],
)
def test_weak_bench_passwords_are_refused_before_anything_moves(password: str, weak: bool) -> None:
    assert (weakness(password) is not None) is weak
