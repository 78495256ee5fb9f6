"""zstd with its contexts made once per thread.

`zstandard.compress` and `zstandard.decompress` build a new context on every call: for a
16 KB event that costs about as much as the compression itself. A context must not be used
by two threads at once (as gthread workers would), hence one set per thread.
"""

from __future__ import annotations

import threading

import zstandard


class _Contexts(threading.local):
    def __init__(self) -> None:
        self.compressors: dict[int, zstandard.ZstdCompressor] = {}
        self.decompressor = zstandard.ZstdDecompressor()


_contexts = _Contexts()


def compress(data: bytes, *, level: int) -> bytes:
    compressor = _contexts.compressors.get(level)
    if compressor is None:
        compressor = _contexts.compressors[level] = zstandard.ZstdCompressor(level=level)
    return compressor.compress(data)


def decompress(data: bytes) -> bytes:
    """A frame as `compress` writes it (with its content size)."""
    return _contexts.decompressor.decompress(data)
