"""Reading request bodies as SDKs send them: chunked or not, compressed, within size limits."""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, Protocol

import brotli
import zstandard
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest

from ingest.bodywatch import BodyRead, watcher
from ingest.exceptions import (
    BadRequest,
    IngestError,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedEncoding,
)

# Small enough that a body's progress is seen often (ingest/bodywatch.py).
READ_CHUNK_BYTES = 16 * 1024
ZSTD_PIECE_BYTES = 64 * 1024
TOO_LARGE = "request content exceeded size limits"


class Decoder(Protocol):
    def feed(self, data: bytes) -> None: ...
    def drain(self, limit: int) -> bytes: ...  # b"" once all that was fed is decoded
    def finish(self) -> None: ...


class _ZlibDecoder:
    """gzip, or `deflate` as raven sends it (zlib-wrapped; raw deflate tolerated)."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._inflater: zlib._Decompress | None = None
        self._input = b""

    def feed(self, data: bytes) -> None:
        self._input += data

    def drain(self, limit: int) -> bytes:
        while True:
            if (self._inflater is None or self._inflater.eof) and not self._start():
                return b""
            out = self._inflater.decompress(self._input, limit)
            self._input = self._inflater.unconsumed_tail
            # An empty gzip member ends without output: go on with what follows it.
            if out or not self._inflater.eof:
                return out

    def _start(self) -> bool:
        """Start the stream, or the next gzip member; False: no input to start it with yet.
        gzip allows several members in a row (RFC 1952 §2.2), empty ones too; bytes after
        a zlib stream are not another stream: refuse them."""
        if self._inflater is not None:
            self._input = self._inflater.unused_data + self._input
            if self._input and self._wbits != 16 + zlib.MAX_WBITS:
                raise zlib.error("data after the end of the compressed stream")
        wbits = self._wbits
        if wbits == zlib.MAX_WBITS:
            # RFC 9110 deflate is zlib-wrapped, but some clients send raw deflate.
            if len(self._input) < 2:
                return False
            cmf, flg = self._input[0], self._input[1]
            is_zlib = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            wbits = zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS
        elif not self._input:
            return False
        self._inflater = zlib.decompressobj(wbits)
        return True

    def finish(self) -> None:
        if self._input or (self._inflater is not None and not self._inflater.eof):
            raise zlib.error("truncated stream")


class _BrotliDecoder:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()
        self._input = b""

    def feed(self, data: bytes) -> None:
        self._input += data

    def drain(self, limit: int) -> bytes:
        # Output held back by the limit comes first; meanwhile the decompressor takes no input.
        if self._decompressor.can_accept_more_data():
            data, self._input = self._input, b""
            if not data:
                return b""
        else:
            data = b""
        return self._decompressor.process(data, output_buffer_limit=max(limit, 1))

    def finish(self) -> None:
        if not self._decompressor.is_finished():
            raise brotli.error("truncated stream")


class _ZstdFrameEnds:
    """Whether a zstd stream ends right after a frame, which the stream writer does not say:
    what the writer decoded within the limit goes through zstandard's one-frame
    decompressor as well, its output dropped. (zstd's C code reads the block headers: a
    Python walk of them took a second per few MiB of empty blocks.)"""

    def __init__(self, decompressor: zstandard.ZstdDecompressor) -> None:
        self._decompressor = decompressor
        self._frame: zstandard.ZstdDecompressionObj | None = None

    def feed(self, data: bytes) -> None:
        while data:
            if self._frame is None or self._frame.eof:
                self._frame = self._decompressor.decompressobj()
            self._frame.decompress(data)
            # The rest is the next frame's (or, not being one, refused by the next call).
            data = self._frame.unused_data if self._frame.eof else b""

    @property
    def complete(self) -> bool:
        """Whether what was fed ends right after a frame, or is empty (as an empty gzip or
        deflate body is: no content)."""
        return self._frame is None or self._frame.eof


class _Collected:
    """What the zstd decoder writes out; past `limit` bytes, the body is too large."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        if self.size > self.limit:
            raise PayloadTooLarge(TOO_LARGE)
        return len(data)


class _ZstdDecoder:
    """zstd; frames in a row are decoded one after the other, skippable ones skipped, as
    `zstd -d` does (RFC 8878 §3.1); anything else after a frame is refused. The decoder
    writes its output in pieces of ZSTD_PIECE_BYTES, and the first piece past the limit
    stops it: a bomb costs at most the limit and one piece."""

    def __init__(self) -> None:
        # Two decompressors: one's context serves one operation at a time.
        self._collected = _Collected()
        self._writer = zstandard.ZstdDecompressor().stream_writer(
            self._collected, write_size=ZSTD_PIECE_BYTES
        )
        self._frames = _ZstdFrameEnds(zstandard.ZstdDecompressor())
        self._input = b""

    def feed(self, data: bytes) -> None:
        self._input += data

    def drain(self, limit: int) -> bytes:
        if not self._input:
            return b""
        data, self._input = self._input, b""
        self._collected.limit = limit
        self._writer.write(data)
        # Only once the writer has bounded what it decodes to.
        self._frames.feed(data)
        out = b"".join(self._collected.parts)
        self._collected.parts, self._collected.size = [], 0
        return out

    def finish(self) -> None:
        if not self._frames.complete:
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


def _stream_errors(request: HttpRequest) -> tuple[type[Exception], ...]:
    """What reading the body raises when the client's stream is at fault: a connection cut,
    reset or timed out, and under gunicorn a broken chunked framing."""
    if "gunicorn.socket" not in request.META:
        return (OSError,)
    # gunicorn parses the chunked framing while the application reads the body and raises
    # its own errors for a bad chunk size, terminator, extension or trailer. Imported here,
    # where gunicorn is the server and has loaded it: other servers never load its parser.
    from gunicorn.http.errors import ParseException

    return (ParseException, OSError)


def _unreadable(exc: Exception) -> IngestError:
    # Django's request.read() re-raises an OSError of the stream as UnreadablePostError.
    if isinstance(exc, TimeoutError) or isinstance(exc.__cause__, TimeoutError):
        return RequestTimeout("timed out reading the request body")
    if isinstance(exc, OSError):  # gunicorn's NoMoreData included: the client left.
        return BadRequest("incomplete request body")
    return BadRequest("invalid chunked request body", causes=[str(exc)])


@contextmanager
def _read_limits(request: HttpRequest) -> Iterator[BodyRead | None]:
    """Under gunicorn, a timeout on each wait for body bytes from the client's socket, and a
    minimum rate for the whole body (ingest/bodywatch.py); what tracks the latter, if on.

    gunicorn reads bodies without either: a client that sends its headers and part of a
    body, then nothing or a byte now and then, holds one of the worker's threads for as long
    as it likes. gthread serves requests in blocking mode (timeout None) and keeps
    connections alive, so the socket gets its previous timeout back once the body is read,
    or not."""
    sock = request.META.get("gunicorn.socket")
    if sock is None or not request.META.get("SERVER_PROTOCOL", "").startswith("HTTP/1."):
        # Not gunicorn, or HTTP/2, whose streams share the socket (and are read for them).
        yield None
        return
    previous = sock.gettimeout()
    grace = settings.INGEST_BODY_READ_TIMEOUT_SECONDS
    sock.settimeout(grace)
    try:
        if settings.INGEST_BODY_MIN_RATE_BYTES_PER_SECOND:
            rate = settings.INGEST_BODY_MIN_RATE_BYTES_PER_SECOND
            with watcher.watching(sock, grace=grace, min_rate=rate) as read:
                yield read
        else:
            yield None
    finally:
        sock.settimeout(previous)


def _close_after_answer(request: HttpRequest) -> None:
    """Have gunicorn close the connection after this answer, as it does once reading a body
    raised: a body cut short by the watcher reads as one that ended (a short Content-Length
    read raises nothing), and the bytes the client sends next are no request."""
    body = request.META.get("wsgi.input")
    if hasattr(body, "failed"):
        body.failed = True


def _chunks(
    stream: BinaryIO | HttpRequest, length: int | None, errors: tuple[type[Exception], ...]
) -> Iterator[bytes]:
    remaining = length
    while remaining is None or remaining > 0:
        want = READ_CHUNK_BYTES if remaining is None else min(READ_CHUNK_BYTES, remaining)
        try:
            chunk = stream.read(want)
        except errors as exc:
            # gunicorn (>= 27) closes the connection after the answer once a read of the
            # body raised: the rest of this body is never read as the next request.
            raise _unreadable(exc) from None
        if not chunk:
            if remaining:
                raise BadRequest("request body ended before Content-Length")
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


def _drain(decoder: Decoder, out: bytearray, max_bytes: int) -> None:
    while more := decoder.drain(max_bytes + 1 - len(out)):
        out += more
        if len(out) > max_bytes:
            raise PayloadTooLarge(TOO_LARGE)


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
    watched: BodyRead | None = None
    try:
        with _read_limits(request) as watched:
            try:
                for chunk in _chunks(stream, length, _stream_errors(request)):
                    received += len(chunk)
                    if watched is not None:
                        watched.received = received
                    if received > max_bytes:
                        raise PayloadTooLarge(TOO_LARGE)
                    if decoder is None:
                        out += chunk
                    else:
                        decoder.feed(chunk)
                        _drain(decoder, out, max_bytes)
            except BadRequest:
                # The watcher cut the stream short: the body came too slowly, not broken.
                if watched is not None and watched.expired:
                    raise RequestTimeout("timed out reading the request body") from None
                raise
        if decoder is not None:
            decoder.finish()
    except _DECODE_ERRORS as exc:
        raise BadRequest(f"invalid {encoding} body: {exc}") from None
    finally:
        # Checked once the watcher lets go of the read: however it ended, a cut socket reads
        # no next request (one cut while the last bytes were decoded leaves a whole body,
        # answered as usual).
        if watched is not None and watched.expired:
            _close_after_answer(request)
    return bytes(out)


def zstd_limited(data: bytes, *, max_bytes: int) -> bytes:
    """zstd-decode `data` (all its frames), at most `max_bytes` out; a truncated stream is a
    BadRequest. zstandard's one-shot decompress() trusts a frame's declared size over its
    max_output_size, so the bounded stream decoder of bodies is used."""
    decoder = _ZstdDecoder()
    out = bytearray()
    try:
        decoder.feed(data)
        _drain(decoder, out, max_bytes)
        decoder.finish()
    except zstandard.ZstdError as exc:
        raise BadRequest(f"invalid zstd data: {exc}") from None
    return bytes(out)


def decompress_once(
    decompressor: Any, data: bytes, *, max_bytes: int, invalid: str, truncated: str, too_large: str
) -> bytes:
    """The first stream of `data` through a zlib, bz2 or lzma decompressor object, in one
    call bounded to `max_bytes` out (what follows the stream is left alone); BadRequest
    `"{invalid}: …"` for a broken or `truncated` stream, PayloadTooLarge(`too_large`)."""
    try:
        out = decompressor.decompress(data, max_bytes + 1)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
        raise BadRequest(f"{invalid}: {exc}") from None
    if len(out) > max_bytes:
        raise PayloadTooLarge(too_large)
    if not decompressor.eof:
        raise BadRequest(f"{invalid}: {truncated}")
    return out


def inflate_limited(data: bytes, *, max_bytes: int) -> bytes:
    """zlib-inflate `data` (raven-js's base64(zlib) store body), at most `max_bytes` out."""
    return decompress_once(
        zlib.decompressobj(),
        data,
        max_bytes=max_bytes,
        invalid="invalid request body",
        truncated="truncated zlib stream",
        too_large=TOO_LARGE,
    )
