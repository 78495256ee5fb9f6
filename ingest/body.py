"""Reading request bodies as SDKs send them: chunked or not, compressed, within size limits."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

import brotli
import zstandard
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest

from ingest.exceptions import BadRequest, PayloadTooLarge, UnsupportedEncoding

READ_CHUNK_BYTES = 64 * 1024
TOO_LARGE = "request content exceeded size limits"


class Decoder(Protocol):
    def feed(self, data: bytes, limit: int) -> bytes: ...
    def drain(self, limit: int) -> bytes: ...
    def finish(self) -> None: ...


class _ZlibDecoder:
    """gzip, or `deflate` as raven sends it (zlib-wrapped; raw deflate tolerated)."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._inflater: zlib._Decompress | None = None
        self._head = b""

    def _start(self, data: bytes) -> bytes:
        if self._wbits == zlib.MAX_WBITS:
            # RFC 9110 deflate is zlib-wrapped, but some clients send raw deflate.
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            cmf, flg = data[0], data[1]
            is_zlib = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS)
        else:
            self._inflater = zlib.decompressobj(self._wbits)
        return data

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._inflater is None:
            data = self._start(data)
            if self._inflater is None:
                return b""
        if self._inflater.eof:
            return self._next_member(data, limit)
        return self._inflater.decompress(self._inflater.unconsumed_tail + data, limit)

    def drain(self, limit: int) -> bytes:
        if self._inflater is None:
            return b""
        if self._inflater.eof:
            return self._next_member(b"", limit)
        if not self._inflater.unconsumed_tail:
            return b""
        return self._inflater.decompress(self._inflater.unconsumed_tail, limit)

    def _next_member(self, data: bytes, limit: int) -> bytes:
        """gzip allows several members in a row (RFC 1952 §2.2): go on with the next one.
        Bytes after a zlib stream are not another stream: refuse them."""
        rest = self._inflater.unused_data + data
        if not rest:
            return b""
        if self._wbits != 16 + zlib.MAX_WBITS:
            raise zlib.error("data after the end of the compressed stream")
        self._inflater = zlib.decompressobj(self._wbits)
        return self._inflater.decompress(rest, limit)

    def finish(self) -> None:
        if self._inflater is None:
            if self._head:
                raise zlib.error("truncated stream")
            return
        if not self._inflater.eof:
            raise zlib.error("truncated stream")


class _BrotliDecoder:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes, limit: int) -> bytes:
        return self._decompressor.process(data, output_buffer_limit=max(limit, 1))

    def drain(self, limit: int) -> bytes:
        if self._decompressor.can_accept_more_data():
            return b""
        return self._decompressor.process(b"", output_buffer_limit=max(limit, 1))

    def finish(self) -> None:
        if not self._decompressor.is_finished():
            raise brotli.error("truncated stream")


class _ZstdDecoder:
    def __init__(self) -> None:
        self._decompressor = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""

    def feed(self, data: bytes, limit: int) -> bytes:
        # zstandard's decompressobj has no output bound: feed it small slices so that one call
        # inflates at most one slice, and keep the rest for `drain`.
        self._pending += data
        return self.drain(limit)

    def drain(self, limit: int) -> bytes:
        out = []
        size = 0
        while self._pending and size <= limit:
            piece, self._pending = self._pending[:256], self._pending[256:]
            chunk = self._decompressor.decompress(piece)
            out.append(chunk)
            size += len(chunk)
        return b"".join(out)

    def finish(self) -> None:
        if not self._decompressor.eof:
            raise zstandard.ZstdError("truncated stream")


_DECODERS: dict[str, Callable[[], Decoder]] = {
    "gzip": lambda: _ZlibDecoder(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: _ZlibDecoder(16 + zlib.MAX_WBITS),
    "deflate": lambda: _ZlibDecoder(zlib.MAX_WBITS),
    "br": _BrotliDecoder,
    "zstd": _ZstdDecoder,
}
# sentry-ruby 5.x sends an empty Content-Encoding and sentry-java 2.0 sends "UTF-8": Relay
# drops both before decoding (relay-server/src/middlewares/decompression.rs).
_IGNORED_ENCODINGS = {"", "identity", "utf-8"}
_DECODE_ERRORS = (zlib.error, brotli.error, zstandard.ZstdError)


def _raw_stream(request: HttpRequest) -> tuple[BinaryIO | HttpRequest | None, int | None]:
    """The body stream and its declared length (None when chunked)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        length = None
    if length is not None:
        return request, length
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if isinstance(request, WSGIRequest):
        # Django caps a WSGI body at CONTENT_LENGTH (absent: 0), so a chunked body from
        # @sentry/node reads as empty; gunicorn hands the de-chunked bytes over in wsgi.input.
        return (request.environ["wsgi.input"], None) if chunked else (None, 0)
    return request, None  # ASGI: Django has the whole body already.


def _chunks(stream: BinaryIO | HttpRequest, length: int | None) -> Iterator[bytes]:
    remaining = length
    while remaining is None or remaining > 0:
        want = READ_CHUNK_BYTES if remaining is None else min(READ_CHUNK_BYTES, remaining)
        chunk = stream.read(want)
        if not chunk:
            if remaining:
                raise BadRequest("request body ended before Content-Length")
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


def read_body(request: HttpRequest, *, max_bytes: int) -> bytes:
    """The request body, decompressed; over `max_bytes` (before or after decoding) → 413."""
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in _IGNORED_ENCODINGS:
        decoder = None
    elif encoding in _DECODERS:
        decoder = _DECODERS[encoding]()
    else:
        raise UnsupportedEncoding(f"unsupported content encoding {encoding!r}")

    stream, length = _raw_stream(request)
    if stream is None:
        return b""
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(TOO_LARGE)

    out = bytearray()
    received = 0
    try:
        for chunk in _chunks(stream, length):
            received += len(chunk)
            if received > max_bytes:
                raise PayloadTooLarge(TOO_LARGE)
            if decoder is None:
                out += chunk
                continue
            out += decoder.feed(chunk, max_bytes + 1 - len(out))
            while len(out) <= max_bytes and (more := decoder.drain(max_bytes + 1 - len(out))):
                out += more
            if len(out) > max_bytes:
                raise PayloadTooLarge(TOO_LARGE)
        if decoder is not None:
            while more := decoder.drain(max_bytes + 1 - len(out)):
                out += more
                if len(out) > max_bytes:
                    raise PayloadTooLarge(TOO_LARGE)
            decoder.finish()
    except _DECODE_ERRORS as exc:
        raise BadRequest(f"invalid {encoding} body: {exc}") from None
    return bytes(out)


def inflate_limited(data: bytes, *, max_bytes: int) -> bytes:
    """zlib-inflate `data` (raven-js's base64(zlib) store body), at most `max_bytes` out."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise BadRequest(f"invalid request body: {exc}") from None
    if len(out) > max_bytes:
        raise PayloadTooLarge(TOO_LARGE)
    if not inflater.eof:
        raise BadRequest("invalid request body: truncated zlib stream")
    return out
