"""Unreal's crash container, unpacked (the layout symbolic-unreal reads).

A header (directory name, file name, uncompressed size, file count) is written first as a
placeholder and again at the end with the real values; between the two are the files, each
its index (i32), name and length (i32), then its bytes. Strings are a u32 length and that many
bytes, NUL-padded; integers are little-endian.
"""

from __future__ import annotations

import struct

from ingest.exceptions import BadRequest

INVALID = "invalid unreal crash report"
# More files than any crash reporter writes: a body of empty entries is refused early.
MAX_FILES = 1000


def unpack_container(data: bytes) -> list[tuple[str, bytes]]:
    """The (name, bytes) of every file in an unpacked crash container, in its order."""
    try:
        (count,) = struct.unpack_from("<i", data, max(len(data) - 4, 0))
        offset = _skip_header(data, 0)
        if not 0 <= count <= MAX_FILES:
            raise BadRequest(f"{INVALID}: {count} files")
        files = []
        for _ in range(count):
            offset += 4  # the file's index
            name, offset = _string(data, offset)
            (length,) = struct.unpack_from("<i", data, offset)
            offset += 4
            if length < 0 or offset + length > len(data):
                raise BadRequest(f"{INVALID}: truncated file {name!r}")
            files.append((name, data[offset : offset + length]))
            offset += length
        if _skip_header(data, offset) != len(data):
            raise BadRequest(f"{INVALID}: data after the files")
    except struct.error:
        raise BadRequest(f"{INVALID}: truncated") from None
    return files


def _skip_header(data: bytes, offset: int) -> int:
    _, offset = _string(data, offset)  # directory name
    _, offset = _string(data, offset)  # file name
    struct.unpack_from("<ii", data, offset)  # uncompressed size, file count
    return offset + 8


def _string(data: bytes, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<I", data, offset)
    start, end = offset + 4, offset + 4 + length
    if end > len(data):
        raise BadRequest(f"{INVALID}: truncated")
    return data[start:end].decode("utf-8", "replace").rstrip("\0"), end
