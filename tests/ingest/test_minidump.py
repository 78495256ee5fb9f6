"""Minidump uploads at /api/<id>/minidump/: multipart forms (Crashpad, Breakpad, Electron,
sentry-native) and raw bodies, turned into an event with the minidump attached."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import struct
import subprocess

import msgpack
import pytest
import zstandard
from django.core.files.uploadedfile import SimpleUploadedFile

from groups.models import Attachment, Event
from ingest.digest import drain
from ingest.exceptions import BadRequest, PayloadTooLarge
from ingest.minidump import crash_info, decode_container
from ingest.models import OutcomeCounter, QueuedItem
from projects.models import ProjectQuota
from tests.ingest.test_views import assert_status

LINUX, WINDOWS, MACOS = 0x8201, 2, 0x8101


def make_minidump(
    *, platform_id: int = LINUX, code: int = 11, address: int = 0x7F00DEAD, first: int = 0
) -> bytes:
    """A little-endian minidump with a system info and an exception stream, laid out as
    Breakpad's minidump_format.h describes them (header, directory, streams)."""
    system_info = struct.pack("<HHHBBIIII", 9, 6, 0, 8, 1, 6, 1, 0, platform_id) + bytes(32)
    exception = struct.pack("<IIIIQQII", 1234, 0, code, 0, 0, address, 1, 0)
    exception += struct.pack("<15Q", first, *([0] * 14)) + bytes(8)
    streams = [(7, system_info), (6, exception)]
    directory_at = 32
    data_at = directory_at + 12 * len(streams)
    directory, data = b"", b""
    for kind, payload in streams:
        directory += struct.pack("<III", kind, len(payload), data_at + len(data))
        data += payload
    header = struct.pack("<4sIIIIIQ", b"MDMP", 0xA793, len(streams), directory_at, 0, 0, 0)
    return header + directory + data


class TestCrashInfo:
    @pytest.mark.parametrize(
        ("platform_id", "code", "first", "name", "os_name"),
        [
            (LINUX, 11, 0, "SIGSEGV", "Linux"),
            (LINUX, 6, 0, "SIGABRT", "Linux"),
            (WINDOWS, 0xC0000005, 0, "EXCEPTION_ACCESS_VIOLATION_READ", "Windows"),
            (WINDOWS, 0xC0000005, 1, "EXCEPTION_ACCESS_VIOLATION_WRITE", "Windows"),
            (WINDOWS, 0xC00000FD, 0, "EXCEPTION_STACK_OVERFLOW", "Windows"),
            (MACOS, 1, 0, "EXC_BAD_ACCESS", "macOS"),
            (0x8203, 99, 0, "signal 99", "Android"),
        ],
    )
    def test_exceptions_and_systems(self, platform_id, code, first, name, os_name):
        dump = make_minidump(platform_id=platform_id, code=code, first=first, address=0x10)
        found, description, contexts = crash_info(dump)
        assert (found, description) == (name, f"Fatal Error: {name} at 0x10")
        assert contexts["os"]["name"] == os_name
        assert contexts["device"] == {"arch": "x86_64", "processor_count": 8}

    @pytest.mark.parametrize(
        "dump", [b"MDMP" + bytes(28), b"MDMP\x00\x00", b"PMDM" + bytes(60), b"MDMP" + b"\xff" * 40]
    )
    def test_dumps_without_a_readable_exception(self, dump):
        name, description, _ = crash_info(dump)
        assert (name, description) == ("Minidump", "Crash report without an exception record")

    @pytest.mark.parametrize(
        "compress",
        [gzip.compress, lzma.compress, bz2.compress, zstandard.ZstdCompressor().compress],
    )
    def test_compression_containers(self, compress):
        dump = make_minidump()
        assert decode_container(compress(dump), max_bytes=10_000) == dump
        with pytest.raises(PayloadTooLarge):
            decode_container(compress(dump + bytes(100_000)), max_bytes=10_000)

    def test_only_the_first_member_is_read(self):
        # Many empty members after the first are not decoded (they cost CPU, not output).
        dump = make_minidump()
        data = gzip.compress(dump) + gzip.compress(b"") * 10_000
        assert decode_container(data, max_bytes=10_000) == dump

    def test_msgpack_files_are_bounded(self, settings):
        from ingest.minidump import _unpacked

        settings.INGEST_MAX_EVENT_BYTES = 1024
        with pytest.raises(PayloadTooLarge):
            _unpacked(b"\x80" * 2000, "breadcrumbs", keep=100)
        assert len(_unpacked(b"\x80" * 1000, "breadcrumbs", keep=100)) == 100

    def test_a_broken_container_is_a_bad_request(self):
        with pytest.raises(BadRequest, match="invalid compression container"):
            decode_container(gzip.compress(make_minidump())[:30], max_bytes=10_000)


@pytest.fixture
def post_minidump(client, key):
    def post(data, *, query="", **extra):
        url = f"/api/{key.project_id}/minidump/?sentry_key={key.public_key}{query}"
        return client.post(url, data=data, **extra)

    return post


def read(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as handle:
        return handle.read()


def dump_file(content: bytes | None = None, name: str = "crash.dmp") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content if content is not None else make_minidump())


@pytest.mark.django_db
class TestEndpoint:
    def test_an_electron_style_form(self, post_minidump, key):
        event = {"release": "desktop@3.1.0", "tags": {"channel": "beta"}}
        half = len(json.dumps(event)) // 2
        form = {
            "upload_file_minidump": dump_file(gzip.compress(make_minidump()), "crash.dmp.gz"),
            "sentry__1": json.dumps(event)[:half],
            "sentry__2": json.dumps(event)[half:],
            "sentry___sentry-user": json.dumps({"user": {"id": "u-7"}}),
            "sentry[environment]": "production",
            "sentry[tags][process]": "renderer",
            "_productName": "Desktop",
            "log.txt": SimpleUploadedFile("log.txt", b"last words"),
        }
        response = post_minidump(form)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "text/plain"
        event_id = response.content.decode()
        drain()
        stored = Event.objects.get(event_id=event_id)
        assert stored.title == "SIGSEGV: Fatal Error: SIGSEGV at 0x7f00dead"
        assert (stored.release, stored.environment, stored.level) == (
            "desktop@3.1.0",
            "production",
            "fatal",
        )
        tags = dict(stored.tags)
        assert (tags["channel"], tags["process"]) == ("beta", "renderer")
        assert stored.data["user"]["id"] == "u-7"
        assert stored.data["extra"]["_productName"] == "Desktop"
        assert stored.data["contexts"]["os"]["name"] == "Linux"
        assert stored.data["platform"] == "native"
        attachments = {a.name: a for a in Attachment.objects.filter(event_id=event_id)}
        assert set(attachments) == {"crash.dmp", "log.txt"}
        assert attachments["crash.dmp"].attachment_type == "event.minidump"
        assert read(attachments["crash.dmp"]) == make_minidump()

    def test_sentry_native_msgpack_event_and_breadcrumbs(self, post_minidump):
        native = {"event_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "release": "app@1.0"}
        crumbs = b"".join(
            msgpack.packb({"message": f"step {n}", "timestamp": f"2026-12-03T10:00:0{n}Z"})
            for n in (1, 2)
        )
        form = {
            "upload_file_minidump": dump_file(make_minidump(platform_id=WINDOWS, code=0xC0000005)),
            "__sentry-event": SimpleUploadedFile("__sentry-event", msgpack.packb(native)),
            "__sentry-breadcrumb1": SimpleUploadedFile("__sentry-breadcrumb1", crumbs),
        }
        response = post_minidump(form)
        assert response.content == b"0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        drain()
        stored = Event.objects.get()
        assert stored.release == "app@1.0"
        assert stored.title.startswith("EXCEPTION_ACCESS_VIOLATION_READ: ")
        messages = [c["message"] for c in stored.data["breadcrumbs"]["values"]]
        assert messages == ["step 1", "step 2"]
        assert Attachment.objects.get().name == "crash.dmp"

    def test_a_raw_minidump_body(self, post_minidump):
        response = post_minidump(
            zstandard.ZstdCompressor().compress(make_minidump()),
            content_type="application/octet-stream",
        )
        assert response.status_code == 200, response.content
        drain()
        assert Attachment.objects.get().name == "Minidump"
        assert Event.objects.get().title == "SIGSEGV: Fatal Error: SIGSEGV at 0x7f00dead"

    def test_same_crash_kind_is_one_issue(self, post_minidump):
        for address in (0x10, 0x20):
            form = {"upload_file_minidump": dump_file(make_minidump(address=address))}
            assert post_minidump(form).status_code == 200
        drain()
        first, second = Event.objects.all()
        assert first.group_id == second.group_id

    def test_an_error_quota_drops_the_crash_and_its_minidump_with_200(self, post_minidump, key):
        ProjectQuota.objects.create(
            project=key.project, category="error", count=0, window_seconds=60
        )
        response = post_minidump({"upload_file_minidump": dump_file(), "a.txt": dump_file()})
        assert response.status_code == 200, response.content
        assert not QueuedItem.objects.exists()
        limited = {
            row.category: row.quantity
            for row in OutcomeCounter.objects.filter(outcome="rate_limited")
        }
        assert limited == {"error": 1, "attachment": 2}

    def test_form_json_that_does_not_parse_is_left_out_not_the_crash(self, post_minidump):
        form = {"upload_file_minidump": dump_file(), "sentry": "{bad", "sentry[release]": "a@1"}
        assert post_minidump(form).status_code == 200
        drain()
        assert Event.objects.get().release == "a@1"

    def test_the_minidumps_crash_replaces_an_exception_in_the_form(self, post_minidump):
        form = {
            "upload_file_minidump": dump_file(),
            "sentry[exception]": "x",
            "sentry[platform]": "js",
        }
        assert post_minidump(form).status_code == 200
        drain()
        stored = Event.objects.get()
        assert stored.title == "SIGSEGV: Fatal Error: SIGSEGV at 0x7f00dead"
        assert stored.data["platform"] == "native"

    @pytest.mark.parametrize(
        ("form", "status", "detail"),
        [
            ({"other": "x"}, 400, "missing minidump upload"),
            ({"upload_file_minidump": dump_file(b"not a dump")}, 400, "invalid minidump"),
            (
                {
                    "upload_file_minidump": dump_file(),
                    "__sentry-event": SimpleUploadedFile("e", b"\xc1"),
                },
                400,
                "invalid event (msgpack)",
            ),
            (
                {
                    "upload_file_minidump": dump_file(),
                    # 5 bytes declaring an array of 100 million entries.
                    "__sentry-breadcrumb1": SimpleUploadedFile("b", b"\xdd\x05\xf5\xe1\x00"),
                },
                400,
                "invalid breadcrumbs (msgpack)",
            ),
            (
                {
                    "upload_file_minidump": dump_file(),
                    "__sentry-event": SimpleUploadedFile("e", b"\x91" * 100_000),
                },
                400,
                "invalid event (msgpack)",
            ),
            (
                {
                    "upload_file_minidump": dump_file(),
                    # A map whose key is an array: unhashable.
                    "__sentry-event": SimpleUploadedFile("e", b"\x81\x91\x01\x01"),
                },
                400,
                "invalid event (msgpack)",
            ),
            (
                {
                    "upload_file_minidump": dump_file(),
                    "__sentry-event": SimpleUploadedFile("e", msgpack.packb({b"k": 1})),
                },
                400,
                "invalid event",
            ),
            (
                {"upload_file_minidump": dump_file(gzip.compress(make_minidump())[:40])},
                400,
                "invalid compression container",
            ),
            (
                {
                    "upload_file_minidump": dump_file(
                        zstandard.ZstdCompressor().compress(make_minidump())[:-8]
                    )
                },
                400,
                "invalid zstd data",
            ),
        ],
    )
    def test_bad_forms(self, post_minidump, form, status, detail):
        answer = assert_status(post_minidump(form), status)
        assert answer["detail"].startswith(detail)
        assert not QueuedItem.objects.exists()

    def test_bad_requests(self, client, key, post_minidump):
        url = f"/api/{key.project_id}/minidump/"
        assert_status(client.post(url, data={"upload_file_minidump": dump_file()}), 401)
        garbled = post_minidump(
            b"--x\r\nnot a part", content_type="multipart/form-data; boundary=x"
        )
        assert assert_status(garbled, 400)["detail"]
        assert_status(post_minidump(b"", content_type="application/octet-stream"), 400)
        assert not QueuedItem.objects.exists()


def test_curl_uploads_a_minidump(faultline_server, key, tmp_path):
    """Sentry's documented upload: curl -F upload_file_minidump=@file."""
    path = tmp_path / "mini.dmp"
    path.write_bytes(make_minidump(platform_id=WINDOWS, code=0xC00000FD))
    url = f"{faultline_server.url}/api/{key.project_id}/minidump/?sentry_key={key.public_key}"
    result = subprocess.run(  # noqa: S603
        ["curl", "-sS", "-F", f"upload_file_minidump=@{path}", "-F", "sentry[release]=app@2", url],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    event_id = result.stdout.strip()
    assert len(event_id) == 32, result.stdout
    drain()
    stored = Event.objects.get(event_id=event_id)
    assert (
        stored.title
        == "EXCEPTION_STACK_OVERFLOW: Fatal Error: EXCEPTION_STACK_OVERFLOW at 0x7f00dead"
    )
    assert stored.release == "app@2"
    assert read(Attachment.objects.get())[:4] == b"MDMP"
