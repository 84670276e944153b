"""Safe XML from the wire: one entry point that turns untrusted bytes into an element tree.

Cameras, recorders and anything else on the bench segment can send us XML. None of it is
trusted: not its size, not its encoding declaration, not its namespaces, not its DTD. Every
failure becomes `rig.errors.ParseError` with a one-line message, so callers handle one type.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from rig.errors import ParseError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Element",
    "child_text",
    "fields",
    "find_child",
    "local_name",
    "name_is",
    "parse_bool",
    "parse_xml",
]

# Every real answer we read (SADP ProbeMatch, ISAPI deviceInfo) is 1-2 KiB; 64 KiB is generous
# and still small enough that a hostile or broken sender cannot make us build a huge tree.
DEFAULT_MAX_BYTES = 64 * 1024


def parse_xml(
    data: bytes | bytearray, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "XML"
) -> Element:
    """Parse `data` (UTF-8, optional BOM) into a tree whose tags carry no namespace.

    `what` names the document in error messages ("SADP reply", "deviceInfo"...).
    DTDs are refused outright (no device we talk to sends one, and they carry the entity bombs),
    as are entities and external references. Raises ParseError and nothing else.
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise ParseError(f"{what} is {len(data)} bytes, over the {max_bytes}-byte limit")
    if not data.strip():
        raise ParseError(f"{what} is empty")
    try:
        # Decide the encoding ourselves: the declaration is as untrusted as the rest, and a str
        # handed to the parser makes it ignore whatever encoding the declaration names.
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{what} is not UTF-8 (bad byte at offset {exc.start})") from None
    try:
        root = DET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise ParseError(f"{what} contains a DTD, which is not allowed") from None
    except EntitiesForbidden:
        raise ParseError(f"{what} declares entities, which are not allowed") from None
    except ExternalReferenceForbidden:
        raise ParseError(f"{what} references an external resource, which is not allowed") from None
    except ET.ParseError as exc:
        raise ParseError(f"{what} is not well-formed XML: {_one_line(str(exc))}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        # Defence in depth: expat/ElementTree have raised these on pathological input in the
        # past; the contract is one error type, whatever the parser's internals do.
        raise ParseError(f"{what} could not be parsed: {type(exc).__name__}") from None
    if not isinstance(root, Element):  # pragma: no cover - fromstring always returns Element
        raise ParseError(f"{what} has no root element")
    _strip_namespaces(root)
    return root


def _strip_namespaces(root: Element) -> None:
    # Hikvision uses several namespaces for the same documents (hikvision.com ver10/ver20,
    # isapi.org ver20) and some firmware sends none: meaning is in the local name only.
    # Element.iter() walks iteratively, so a deeply nested (but size-capped) tree is fine.
    for elem in root.iter():
        if isinstance(elem.tag, str):
            elem.tag = local_name(elem.tag)
        if elem.attrib:
            elem.attrib = {local_name(k): v for k, v in elem.attrib.items()}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def local_name(tag: str) -> str:
    """`{namespace}Name` -> `Name`; `prefix:Name` -> `Name`."""
    if tag.startswith("{"):
        tag = tag.rpartition("}")[2]
    return tag.rpartition(":")[2]


def name_is(elem: Element, name: str) -> bool:
    """Element names compare case-insensitively: devices send `IPv4Address` and `Ipv4Address`."""
    return isinstance(elem.tag, str) and elem.tag.casefold() == name.casefold()


def find_child(elem: Element, name: str) -> Element | None:
    """The first direct child called `name` (any case), or None."""
    for child in elem:
        if name_is(child, name):
            return child
    return None


def child_text(elem: Element, name: str) -> str | None:
    """Stripped text of the first direct child called `name` (any case); None if absent."""
    child = find_child(elem, name)
    if child is None:
        return None
    return (child.text or "").strip()


def fields(elem: Element) -> dict[str, str]:
    """Every direct child's stripped text, keyed by its tag as sent; the first of a repeat wins."""
    out: dict[str, str] = {}
    for child in elem:
        if isinstance(child.tag, str) and child.tag not in out:
            out[child.tag] = (child.text or "").strip()
    return out


# Real firmware sends `flase` (sic) for false in some SADP fields (HCPlatformEnable,
# DeviceLock; published captures of a DS-2CD2385G1-I, a DS-2CD2320D-I and a DS-2CD5026EFWD-A).
# It can only mean false, so it reads as false; no other misspelling is guessed at.
_FALSE_TYPOS = frozenset({"flase"})


def parse_bool(text: str | None) -> bool | None:
    """`true`/`false` in any case (and the firmware's `flase` typo: false); anything else (or
    nothing) is None, meaning unknown.

    ASCII only: a look-alike such as `falſe` (long s, which casefolds to `false`) is not a
    boolean a device sends, so it is unknown too.
    """
    if text is None:
        return None
    value = text.strip()
    if not value.isascii():
        return None
    value = value.lower()
    if value == "true":
        return True
    if value == "false" or value in _FALSE_TYPOS:
        return False
    return None
