"""Request images: base64 JSON or raw bytes → a BGR array, refusing what is too large or not an image.

Dimensions of PNG and JPEG files are read from their headers *before* decoding, so a small file that would
decode into gigabytes (a decompression bomb) is refused without allocating it; other formats are checked after
decoding (OpenCV's own limit, 2^30 pixels, caps them meanwhile).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct

import cv2
import numpy as np
from numpy.typing import NDArray

_DATA_URL = re.compile(r"^data:(?P<type>[\w.+/-]*)(;[\w=.-]+)*;base64,", re.ASCII)


class ImageRejectedError(ValueError):
    """An image the API refuses; ``status`` is the HTTP status to answer (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def decode_base64_image(value: str) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URL or of plain base64 text."""
    match = _DATA_URL.match(value)
    if match is not None:
        if match["type"] and not match["type"].startswith("image/"):
            raise ImageRejectedError(415, f"data URL type {match['type']!r} is not an image")
        value = value[match.end() :]
    elif value.startswith("data:"):
        raise ImageRejectedError(400, "image: a data URL must be base64 ('data:image/png;base64,...')")
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejectedError(400, "image: not valid base64") from None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, or None for other formats or when not found."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


def check_size(width: int, height: int, max_side: int, max_pixels: int) -> None:
    if width > max_side or height > max_side:
        raise ImageRejectedError(413, f"image is {width}x{height}: the largest side allowed is {max_side} pixels")
    if width * height > max_pixels:
        raise ImageRejectedError(413, f"image is {width}x{height}: more than {max_pixels} pixels")


def decode_image(data: bytes, max_side: int, max_pixels: int) -> NDArray[np.uint8]:
    """A BGR uint8 image from encoded bytes (JPEG, PNG, WebP, BMP, ... whatever OpenCV reads).

    Raises:
        ImageRejectedError: empty, not an image, corrupt (400), or larger than the limits (413).
    """
    if not data:
        raise ImageRejectedError(400, 'empty body: send an image, or JSON {"image": "data:image/...;base64,..."}')
    size = header_size(data)
    if size is not None:
        check_size(*size, max_side, max_pixels)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageRejectedError(400, "cannot decode the image: not an image, or corrupt")
    check_size(int(image.shape[1]), int(image.shape[0]), max_side, max_pixels)
    return np.ascontiguousarray(image, np.uint8)
