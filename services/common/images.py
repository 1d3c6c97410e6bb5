"""Deterministic PNG images: ~200 KB per media id (so bandwidth faults bite) and a tiny placeholder (pure)."""

from __future__ import annotations

import functools
import struct
import zlib

__all__ = ["MEDIA_IDS", "PLACEHOLDER_FALLBACK", "image", "placeholder"]

MEDIA_IDS = tuple(range(1, 13))
PLACEHOLDER_FALLBACK = "media_placeholder"
_SIDE = 256


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, rows: bytes, comment: str, level: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"tEXt", b"Comment\x00" + comment.encode())
            + _chunk(b"IDAT", zlib.compress(rows, level)) + _chunk(b"IEND", b""))


@functools.lru_cache(maxsize=len(MEDIA_IDS))
def image(media_id: int) -> bytes:
    """The image of `media_id`: a 256x256 pattern stored uncompressed, about 197 KB."""
    base = bytes((i * (media_id + 2) + media_id * 37) & 0xFF for i in range(_SIDE * 3))
    # Each row is the base pattern rotated: cheap to build, and level 0 keeps the size honest.
    rows = b"".join(b"\x00" + base[y:] + base[:y] for y in range(_SIDE))
    return _png(_SIDE, _SIDE, rows, f"chirp-media:{media_id}", level=0)


@functools.lru_cache(maxsize=1)
def placeholder() -> bytes:
    """A small grey 16x16 image served when the real one cannot be had in time."""
    rows = b"".join(b"\x00" + b"\x80" * 48 for _ in range(16))
    return _png(16, 16, rows, "chirp-placeholder", level=9)
