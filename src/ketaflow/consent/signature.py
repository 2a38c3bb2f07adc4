"""The drawn signature: a PNG data URL from the signing page's canvas, checked before it is kept.

Only a real PNG is accepted (the 8-byte signature and an IHDR chunk of sensible size), at most
MAX_BYTES once decoded; it is stored as bytes and shown again only as a `data:image/png` URL, which
the pages' Content-Security-Policy allows for images and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import struct

PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 200 * 1024
MAX_SIDE = 4000


class BadSignature(ValueError):
    """The drawn signature is not a PNG we can keep; the message says why, for the patient."""


def png_from_data_url(value: str) -> bytes | None:
    """The PNG bytes of a `data:image/png;base64,...` URL; None for an empty value.

    Raises BadSignature for anything else: another type, broken base64, not a PNG, too large.
    """
    value = (value or "").strip()
    if not value:
        return None
    if not value.startswith(PREFIX):
        raise BadSignature("The drawn signature was not received as an image; clear it and draw it again.")
    encoded = value[len(PREFIX):]
    if len(encoded) > (MAX_BYTES * 4) // 3 + 4:
        raise BadSignature("The drawn signature is too large; clear it and draw it again.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature("The drawn signature could not be read; clear it and draw it again.") from None
    check_png(data)
    return data


def check_png(data: bytes) -> None:
    """Raise BadSignature unless `data` starts like a PNG with a plausible IHDR and fits the cap."""
    if len(data) > MAX_BYTES:
        raise BadSignature("The drawn signature is too large; clear it and draw it again.")
    # magic (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4)
    if len(data) < 24 or not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR":
        raise BadSignature("The drawn signature is not a PNG image; clear it and draw it again.")
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise BadSignature("The drawn signature has an impossible size; clear it and draw it again.")


def data_url(png: bytes | memoryview | None) -> str:
    """The stored PNG as a data URL for an <img> (empty when there is none)."""
    if not png:
        return ""
    return PREFIX + base64.b64encode(bytes(png)).decode("ascii")
