"""Request bodies as ingest/body.py and the front door read them: broken, cut or stalled
streams under the web server (granian), and compressed bodies of several
gzip members or zstd frames."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import json
import select
import socket
import time
import tracemalloc

import pytest
import zstandard

from ingest.body import read_body
from ingest.exceptions import IngestError
from ingest.models import QueuedItem
from tests.conftest import _free_port, web_server
from tests.ingest.conftest import auth_header, event_envelope

pytestmark = pytest.mark.django_db


def _store_head(key, *, headers: str) -> bytes:
    return (
        f"POST /api/{key.project_id}/store/ HTTP/1.1\r\nHost: x\r\n"
        f"X-Sentry-Auth: {auth_header(key.public_key)}\r\n"
        f"Content-Type: application/json\r\n{headers}\r\n"
    ).encode()


def _connect(url: str) -> socket.socket:
    host, _, port = url.removeprefix("http://").partition(":")
    # Long enough for the server's answer, short enough that a stuck server fails the test.
    return socket.create_connection((host, int(port)), timeout=10)


def _answer(sock: socket.socket) -> tuple[http.client.HTTPResponse, bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response, response.read()


def _is_closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed the connection after its answer (rather than waiting for
    another request on it, which would be the unread rest of the body)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# Sent after headers with `Transfer-Encoding: chunked`. granian (hyper) parses the chunked
# framing before the body reaches the application and ends the body of a broken one as if the
# client had left: the front door answers its JSON 400, and the connection is closed.
BROKEN_CHUNKED_BODIES = {
    "chunk size not hexadecimal": b"zz\r\n{}\r\n0\r\n\r\n",
    "chunk size line without its end": b"2" * 9000,
    "chunk not followed by CRLF": b"2\r\n{}XX0\r\n\r\n",
}
# Bodies after which the client shuts its side: nobody is left to read an answer.
CUT_CHUNKED_BODIES = {
    "client leaves before the end of the trailers": b"2\r\n{}\r\n0\r\n",
    "client leaves in the middle of a chunk": b"10\r\n{}",
}


@pytest.mark.parametrize("case", BROKEN_CHUNKED_BODIES)
def test_a_broken_chunked_body_is_a_400_and_the_connection_closes(faultline_server, key, case):
    with _connect(faultline_server.url) as sock:
        sock.sendall(_store_head(key, headers="Transfer-Encoding: chunked\r\n"))
        sock.sendall(BROKEN_CHUNKED_BODIES[case])
        response, content = _answer(sock)
        assert response.status == 400, content
        assert json.loads(content) == {"detail": "incomplete request body"}
        # Where the next request would start is unknown: the server must not read one.
        assert _is_closed_by_server(sock)
    assert not QueuedItem.objects.exists()


def test_a_chunk_extension_is_skipped_and_the_chunk_read(faultline_server, key):
    """hyper skips chunk extensions without reading them, even a malformed one (`;=` has no
    name): the chunk itself is still read by its size, and nothing of it is taken for the
    next request. (gunicorn's parser refused this one with a 400.)"""
    with _connect(faultline_server.url) as sock:
        sock.sendall(_store_head(key, headers="Transfer-Encoding: chunked\r\n"))
        sock.sendall(b"2;=\r\n{}\r\n0\r\n\r\n")
        response, content = _answer(sock)
        assert response.status == 200, content
    assert QueuedItem.objects.count() == 1


@pytest.mark.parametrize("case", CUT_CHUNKED_BODIES)
def test_a_chunked_body_cut_short_is_not_queued(faultline_server, key, case):
    with _connect(faultline_server.url) as sock:
        sock.sendall(_store_head(key, headers="Transfer-Encoding: chunked\r\n"))
        sock.sendall(CUT_CHUNKED_BODIES[case])
        sock.shutdown(socket.SHUT_WR)
        # A 400 for a reader that is not there, at most, and then the end of the connection.
        rest = _read_to_the_end(sock)
        assert not rest or rest.startswith(b"HTTP/1.1 400 "), rest
    with _connect(faultline_server.url) as sock:
        body = json.dumps({"message": "after the cut one"}).encode()
        sock.sendall(_store_head(key, headers=f"Content-Length: {len(body)}\r\n") + body)
        response, content = _answer(sock)
        assert response.status == 200, content
    assert QueuedItem.objects.count() == 1


def _read_to_the_end(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (a timeout fails the test)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


@contextlib.contextmanager
def _web_server(port: int, **env: str):
    """A web server of its own (the session's live server cannot change its settings)."""
    with web_server(port, **env):
        yield f"http://127.0.0.1:{port}"


@pytest.mark.django_db(transaction=True)
def test_stalled_bodies_are_answered_408_and_free_their_threads(key):
    """More clients than threads send `{` of a 100-byte body and then nothing: each is
    answered once the read timeout runs out, and the server goes on serving."""
    with _web_server(_free_port(), WEB_THREADS="2", INGEST_BODY_READ_TIMEOUT_SECONDS="1") as url:
        stalled = [_connect(url) for _ in range(3)]
        try:
            for sock in stalled:
                sock.sendall(_store_head(key, headers="Content-Length: 100\r\n") + b"{")
            for sock in stalled:
                response, content = _answer(sock)
                assert response.status == 408, content
                assert json.loads(content) == {"detail": "timed out reading the request body"}
                # The 99 bytes still to come are not another request.
                assert _is_closed_by_server(sock)
        finally:
            for sock in stalled:
                sock.close()
        with _connect(url) as sock:
            body = json.dumps({"message": "after the stalled ones"}).encode()
            sock.sendall(_store_head(key, headers=f"Content-Length: {len(body)}\r\n") + body)
            response, content = _answer(sock)
            assert response.status == 200, content


def _trickle(sock: socket.socket, data: bytes, *, pieces: int, pause: float) -> float:
    """Send `data` in `pieces` with `pause` between them, until all is sent or the server
    answers; the seconds it took."""
    started = time.monotonic()
    size = -(-len(data) // pieces)
    for start in range(0, len(data), size):
        sock.sendall(data[start : start + size])
        if select.select([sock], [], [], pause)[0]:
            break  # answered (or closed)
    return time.monotonic() - started


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("transfer", ["Content-Length", "chunked"])
def test_a_body_below_the_minimum_rate_is_answered_408_and_the_connection_closed(key, transfer):
    """A byte every 0.2 s renews the 1 s read timeout forever; the rate rule (1 s plus one
    per 1000 bytes received) ends it after about a second. The connection is closed: what
    the client sends after the cut is not read as another request."""
    body = json.dumps({"message": "x" * 200}).encode()
    if transfer == "chunked":
        headers = "Transfer-Encoding: chunked\r\n"
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    else:
        headers = f"Content-Length: {len(body)}\r\n"
    with (
        _web_server(_free_port(), INGEST_BODY_READ_TIMEOUT_SECONDS="1") as url,
        _connect(url) as sock,
    ):
        sock.sendall(_store_head(key, headers=headers))
        # A byte every 0.2 s until the answer (the whole body would take 45 s).
        assert _trickle(sock, body, pieces=len(body), pause=0.2) < 10
        response, content = _answer(sock)
        assert response.status == 408, content
        assert json.loads(content) == {"detail": "timed out reading the request body"}
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /api/0/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _is_closed_by_server(sock)
    assert not QueuedItem.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_slow_body_above_the_minimum_rate_is_read(key):
    """48 KB in 3 s, past the 2 s timeout: each read of 16 KiB comes about a second after
    the one before, and each earns 1.6 s more at the 10 KB/s minimum."""
    body = json.dumps({"message": "slow but steady", "extra": {"pad": "x" * 48_000}}).encode()
    environment = {
        "INGEST_BODY_READ_TIMEOUT_SECONDS": "2",
        "INGEST_BODY_MIN_RATE_BYTES_PER_SECOND": "10000",
    }
    with _web_server(_free_port(), **environment) as url, _connect(url) as sock:
        sock.sendall(_store_head(key, headers=f"Content-Length: {len(body)}\r\n"))
        assert _trickle(sock, body, pieces=12, pause=0.25) > 2
        response, content = _answer(sock)
        assert response.status == 200, content
    assert QueuedItem.objects.count() == 1


@pytest.mark.parametrize(("previous", "sent"), [(None, b"{}"), (5.0, b"{")])
def test_the_client_socket_gets_its_timeout_back(rf, settings, previous, sent):
    """gthread reads requests in blocking mode (timeout None) and keeps connections alive:
    the body's read timeout must not outlive the body, whether it arrived or timed out."""
    settings.INGEST_BODY_READ_TIMEOUT_SECONDS = 1
    server_side, client_side = socket.socketpair()
    with server_side, client_side:
        server_side.settimeout(previous)
        client_side.sendall(sent)
        request = rf.post(
            "/api/1/store/",
            data=b"",
            content_type="application/json",
            CONTENT_LENGTH="2",
            **{"wsgi.input": server_side.makefile("rb"), "gunicorn.socket": server_side},
        )
        if sent == b"{}":
            assert read_body(request, max_bytes=1024) == b"{}"
        else:
            with pytest.raises(IngestError) as raised:
                read_body(request, max_bytes=1024)
            assert (raised.value.status, raised.value.detail) == (
                408,
                "timed out reading the request body",
            )
        assert server_side.gettimeout() == previous


def _zstd(*parts: bytes) -> bytes:
    return b"".join(zstandard.ZstdCompressor().compress(part) for part in parts)


# Payloads below and above the 256-byte slices the zstd decoder is fed.
SHORT = (b'{"message": ', b'"two frames"}')
LONG = (bytes(range(256)) * 12, bytes(range(255, -1, -1)) * 12)
# A frame zstd skips (RFC 8878 §3.1.2): magic, length, content.
SKIPPABLE = (0x184D2A50).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"
CONCATENATED = {
    "zstd, two short frames": ("zstd", _zstd(*SHORT), b"".join(SHORT)),
    "zstd, two long frames": ("zstd", _zstd(*LONG), b"".join(LONG)),
    "zstd, an empty frame between": ("zstd", _zstd(SHORT[0], b"", SHORT[1]), b"".join(SHORT)),
    "zstd, a skippable frame between": (
        "zstd",
        _zstd(SHORT[0]) + SKIPPABLE + _zstd(SHORT[1]),
        b"".join(SHORT),
    ),
    "gzip, empty members between": (
        "gzip",
        gzip.compress(SHORT[0]) + gzip.compress(b"") * 2 + gzip.compress(SHORT[1]),
        b"".join(SHORT),
    ),
    "gzip, empty members first and between long ones": (
        "gzip",
        gzip.compress(b"") + gzip.compress(LONG[0]) + gzip.compress(b"") + gzip.compress(LONG[1]),
        b"".join(LONG),
    ),
}


def _post(rf, body: bytes, encoding: str):
    return rf.post(
        "/api/1/store/", data=body, content_type="application/json", HTTP_CONTENT_ENCODING=encoding
    )


@pytest.mark.parametrize("case", CONCATENATED)
def test_every_member_and_frame_is_decoded(rf, case):
    encoding, body, decoded = CONCATENATED[case]
    assert read_body(_post(rf, body, encoding), max_bytes=64 * 1024) == decoded


def test_every_frame_is_decoded_through_the_envelope_endpoint(post_envelope, key):
    """Split after the event item: the second frame's attachment is not lost."""
    event = event_envelope()
    attachment = b'{"type": "attachment", "length": 5, "filename": "a.txt"}\nhello\n'
    response = post_envelope(_zstd(event, attachment), HTTP_CONTENT_ENCODING="zstd")
    assert response.status_code == 200, response.content
    assert sorted(QueuedItem.objects.values_list("type", flat=True)) == ["attachment", "event"]
    assert QueuedItem.objects.get(type="attachment").body == b"hello"


@pytest.mark.parametrize(
    "body",
    [
        _zstd(*SHORT) + b"trailing garbage",
        _zstd(*SHORT) + b"\x28",
        _zstd(*LONG)[:-3],
    ],
    ids=["garbage after the frames", "a frame's first byte", "second frame cut short"],
)
def test_zstd_garbage_after_the_frames_is_400(rf, body):
    with pytest.raises(IngestError) as raised:
        read_body(_post(rf, body, "zstd"), max_bytes=64 * 1024)
    assert raised.value.status == 400
    assert raised.value.detail.startswith("invalid zstd body"), raised.value.detail


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_the_size_limit_counts_every_member_and_frame(rf, encoding):
    part = b"A" * (48 * 1024)
    compress = gzip.compress if encoding == "gzip" else _zstd
    body = b"".join(compress(part) for _ in range(3))
    with pytest.raises(IngestError) as raised:
        read_body(_post(rf, body, encoding), max_bytes=128 * 1024)
    assert raised.value.status == 413


def test_a_zstd_bomb_costs_about_its_limit(rf):
    """A few hundred bytes of zstd can stand for megabytes (blocks of one repeated byte):
    decoding stops within one output piece past the limit."""
    bomb = _zstd(b"\0" * (256 * 1024 * 1024))
    limit = 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(IngestError) as raised:
            read_body(_post(rf, bomb, "zstd"), max_bytes=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert raised.value.status == 413
    # The body read so far, the pieces of the last drain and their join.
    assert peak < 4 * limit, peak


_INCOMPRESSIBLE = b"".join(hashlib.sha256(bytes([index])).digest() for index in range(64))


def _zstd_variants() -> list[bytes]:
    """Frames with and without checksum and content size, of raw, RLE and compressed blocks,
    with a skippable frame among them."""
    streamed = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    blocks = streamed.compress(b"x" * 200_000 + bytes(range(256)) * 4)
    blocks += streamed.flush()
    frames = [
        zstandard.ZstdCompressor(write_checksum=True).compress(b"checked " * 20),
        zstandard.ZstdCompressor(write_content_size=False).compress(bytes(range(256))),
        zstandard.ZstdCompressor(level=1).compress(b""),
        SKIPPABLE,
        blocks,
        zstandard.ZstdCompressor().compress(b"\0" * 300_000),  # RLE blocks
        zstandard.ZstdCompressor().compress(_INCOMPRESSIBLE),  # a raw block
    ]
    return frames


def test_a_zstd_stream_cut_anywhere_but_between_frames_is_400(rf):
    frames = _zstd_variants()
    body = b"".join(frames)
    ends = {len(b"".join(frames[: count + 1])) for count in range(len(frames))}
    whole = read_body(_post(rf, body, "zstd"), max_bytes=1024 * 1024)
    assert len(whole) == 201_440 + 300_000 + len(_INCOMPRESSIBLE)
    for end in range(1, len(body)):
        request = _post(rf, body[:end], "zstd")
        if end in ends:
            read_body(request, max_bytes=1024 * 1024)
            continue
        with pytest.raises(IngestError) as raised:
            read_body(request, max_bytes=1024 * 1024)
        assert raised.value.status == 400, end
