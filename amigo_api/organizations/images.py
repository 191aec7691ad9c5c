"""Checks of the organization images sent as base64: format and pixel size, read from the headers."""

import base64
import binascii
import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_base64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} must be base64 encoded bytes") from exc


def png_size(data: bytes, what: str) -> tuple[int, int]:
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError(f"{what} must be a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def ico_size(data: bytes, what: str) -> tuple[int, int]:
    if len(data) < 22 or data[:4] != b"\x00\x00\x01\x00" or struct.unpack("<H", data[4:6])[0] < 1:
        raise ValueError(f"{what} must be an ICO image")
    return data[6] or 256, data[7] or 256


def check_logo(value: str) -> str:
    width, height = png_size(decode_base64(value, "logo"), "logo")
    if width < 400 or height < 160 or abs(width / height - 2.5) > 0.01:
        raise ValueError("logo must be a PNG of aspect ratio 5:2, at least 400 * 160 pixels")
    return value


def check_square_logo(value: str) -> str:
    width, height = png_size(decode_base64(value, "square_logo"), "square_logo")
    if width != height or width < 40:
        raise ValueError("square_logo must be a square PNG of at least 40 * 40 pixels")
    return value


def check_favicon(value: str) -> str:
    width, height = ico_size(decode_base64(value, "favicon"), "favicon")
    if width != height or width < 40:
        raise ValueError("favicon must be a square ICO image of at least 40 * 40 pixels")
    return value


def check_headshot(value: str) -> str:
    width, height = png_size(decode_base64(value, "signup_page_headshot"), "signup_page_headshot")
    if width < 292 or height < 400 or abs(width / height - 0.73) > 0.01:
        raise ValueError("signup_page_headshot must be a PNG of aspect ratio 0.73, at least 292 * 400 pixels")
    return value
