"""Unreal Engine crash reports at /api/<id>/unreal/<key>/: the crash container unpacked into
an event, its attachments and the player's comment."""

from __future__ import annotations

import json
import struct
import subprocess
import zlib

import msgpack
import pytest

from groups.models import Attachment, Event, UserReport
from ingest.digest import drain
from ingest.exceptions import BadRequest
from ingest.models import QueuedItem
from ingest.unreal import log_breadcrumbs, unpack_container
from projects.models import ProjectKey, ProjectQuota
from projects.serializers import ProjectKeySerializer
from tests.ingest.test_minidump import WINDOWS, make_minidump, read
from tests.ingest.test_views import assert_status
from tests.projects.factories import ProjectKeyFactory

pytestmark = pytest.mark.django_db

CRASH_DIRECTORY = "UECC-Windows-379993BB42BD8FBED67986857D8844B5_0000"
SENTRY_EVENT = {"release": "shooter@1.4.2", "environment": "steam", "tags": {"map": "Dust"}}
CONTEXT_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<FGenericCrashContext>
\t<RuntimeProperties>
\t\t<CrashVersion>3</CrashVersion>
\t\t<CrashGUID>{CRASH_DIRECTORY}</CrashGUID>
\t\t<ProcessId>2576</ProcessId>
\t\t<IsAssert>false</IsAssert>
\t\t<IsEnsure>false</IsEnsure>
\t\t<CrashType>Crash</CrashType>
\t\t<GameName>UE-Shooter</GameName>
\t\t<EngineVersion>5.3.2-29314046+++UE5+Release-5.3</EngineVersion>
\t\t<UserName>bruno</UserName>
\t\t<LoginId>9776d4844cc893f55395dbbefb0eb6d7</LoginId>
\t\t<ErrorMessage>Access violation - code c0000005 (first/second chance not available)\
</ErrorMessage>
\t\t<UserDescription>It froze when I opened the map</UserDescription>
\t\t<Misc.NumberOfCores>6</Misc.NumberOfCores>
\t\t<Misc.Is64bitOperatingSystem>1</Misc.Is64bitOperatingSystem>
\t\t<Misc.PrimaryGPUBrand>Parallels Display Adapter (WDDM)</Misc.PrimaryGPUBrand>
\t\t<Misc.OSVersionMajor>Windows 10</Misc.OSVersionMajor>
\t\t<MemoryStats.TotalPhysical>6896832512</MemoryStats.TotalPhysical>
\t\t<CrashReportClientVersion>1.0</CrashReportClientVersion>
\t\t<Modules>C:\\Shooter\\Binaries\\Win64\\Shooter.exe</Modules>
\t</RuntimeProperties>
\t<PlatformProperties>
\t\t<PlatformIsRunningWindows>1</PlatformIsRunningWindows>
\t</PlatformProperties>
\t<EngineData>
\t\t<RHI.RHIName>D3D12</RHI.RHIName>
\t\t<RHI.GPUVendor>NVIDIA</RHI.GPUVendor>
\t</EngineData>
\t<GameData>
\t\t<__sentry>{json.dumps(SENTRY_EVENT).replace('"', "&quot;")}</__sentry>
\t\t<Level>Dust</Level>
\t</GameData>
</FGenericCrashContext>
""".encode()
GAME_LOG = b"""Log file open, 12/13/26 15:54:53
LogWindows: Failed to load 'aqProf.dll' (GetLastError=126)
[2026.12.13-15.54.55:120][  0]LogInit: Display: Starting game
[2026.12.13-15.54.57:342][ 12]LogStreaming: Loading map Dust

[2026.12.13-15.54.58:001][ 40]LogWindows: Error: appError called
"""


def _string(text: str) -> bytes:
    data = text.encode() + b"\0"
    return struct.pack("<I", len(data)) + data


def container(files: list[tuple[str, bytes]], *, directory: str = CRASH_DIRECTORY) -> bytes:
    """Unreal's crash container, as CrashReportClient writes it before compressing it."""
    payload = b"".join(
        struct.pack("<i", index) + _string(name) + struct.pack("<i", len(data)) + data
        for index, (name, data) in enumerate(files)
    )
    placeholder = _string("") + _string("") + struct.pack("<ii", 0, 0)
    header = _string(directory) + _string(f"{directory}.uecrash")
    header += struct.pack("<ii", len(payload), len(files))
    return placeholder + payload + header


def crash_report(files: list[tuple[str, bytes]] | None = None) -> bytes:
    if files is None:
        files = [
            ("UEMinidump.dmp", make_minidump(platform_id=WINDOWS, code=0xC0000005)),
            ("CrashContext.runtime-xml", CONTEXT_XML),
            ("Shooter.log", GAME_LOG),
            ("CrashReportClient.ini", b"[CrashReportClient]\nbAgreeToCrashUpload=true\n"),
        ]
    return zlib.compress(container(files))


def unreal_url(key: ProjectKey, *, public_key: str | None = None, query: str = "") -> str:
    return f"/api/{key.project_id}/unreal/{public_key or key.public_key}/{query}"


@pytest.fixture
def post_unreal(client, key):
    def post(body: bytes, *, query: str = "", **extra):
        return client.post(
            unreal_url(key, query=query),
            data=body,
            content_type="application/octet-stream",
            **extra,
        )

    return post


class TestEndpoint:
    def test_a_crash_report_becomes_an_event_with_its_files(self, post_unreal, key):
        response = post_unreal(crash_report())
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "text/plain"
        assert response["Access-Control-Allow-Origin"] == "*"
        event_id = response.content.decode()
        drain()
        stored = Event.objects.get(event_id=event_id)
        assert stored.title.startswith("EXCEPTION_ACCESS_VIOLATION_READ: Fatal Error")
        assert (stored.release, stored.environment, stored.level) == (
            "shooter@1.4.2",
            "steam",
            "fatal",
        )
        data = stored.data
        assert data["platform"] == "native"
        assert data["logentry"]["formatted"].startswith("Access violation - code c0000005")
        assert data["user"] == {"username": "bruno", "id": "9776d4844cc893f55395dbbefb0eb6d7"}
        assert data["sdk"] == {"name": "unreal.crashreporter", "version": "1.0"}
        contexts = data["contexts"]
        assert contexts["device"]["memory_size"] == 6896832512
        assert contexts["os"]["raw_description"] == "Windows 10"
        assert contexts["os"]["name"] == "Windows"  # from the minidump
        assert contexts["gpu"] == {
            "name": "Parallels Display Adapter (WDDM)",
            "vendor_name": "NVIDIA",
            "api_type": "D3D12",
        }
        assert contexts["game"] == {"Level": "Dust"}
        unreal = contexts["unreal"]
        assert unreal["crash_guid"] == CRASH_DIRECTORY
        assert (unreal["process_id"], unreal["is_assert"], unreal["misc_is_64bit"]) == (
            2576,
            False,
            True,
        )
        assert unreal["custom"] == {"CrashVersion": "3"}
        # Taken into the event, or replaced by the minidump's own (Relay drops them too).
        for taken in ("error_message", "username", "modules", "user_description"):
            assert taken not in unreal
        assert dict(stored.tags)["map"] == "Dust"
        crumbs = data["breadcrumbs"]["values"]
        assert [(c.get("category"), c["message"]) for c in crumbs] == [
            ("LogWindows", "Failed to load 'aqProf.dll' (GetLastError=126)"),
            ("LogInit", "Display: Starting game"),
            ("LogStreaming", "Loading map Dust"),
            ("LogWindows", "Error: appError called"),
        ]
        attachments = {a.name: a for a in Attachment.objects.filter(event_id=event_id)}
        assert {name: a.attachment_type for name, a in attachments.items()} == {
            "UEMinidump.dmp": "event.minidump",
            "CrashContext.runtime-xml": "unreal.context",
            "Shooter.log": "unreal.logs",
            "CrashReportClient.ini": "event.attachment",
        }
        assert read(attachments["Shooter.log"]) == GAME_LOG
        report = UserReport.objects.get()
        assert (report.event_id.hex, report.name, report.comments) == (
            event_id,
            "bruno",
            "It froze when I opened the map",
        )

    def test_an_assert_without_a_minidump_is_an_error_titled_by_its_message(self, post_unreal):
        context = b"""<FGenericCrashContext><RuntimeProperties>
            <IsAssert>true</IsAssert>
            <ErrorMessage>Assertion failed: Index &gt;= 0 [File:Array.h] [Line: 771]</ErrorMessage>
            </RuntimeProperties></FGenericCrashContext>"""
        body = crash_report([("CrashContext.runtime-xml", context)])
        response = post_unreal(body)
        assert response.status_code == 200, response.content
        event_id = response.content.decode()
        drain()
        stored = Event.objects.get(event_id=event_id)
        assert stored.title == "Assertion failed: Index >= 0 [File:Array.h] [Line: 771]"
        assert stored.level == "error"
        assert stored.data["sdk"] == {"name": "unreal.crashreporter", "version": "0.0.0"}
        assert not UserReport.objects.exists()

    def test_an_ensure_is_a_warning(self, post_unreal):
        context = b"<C><RuntimeProperties><IsEnsure>true</IsEnsure></RuntimeProperties></C>"
        assert post_unreal(crash_report([("CrashContext.runtime-xml", context)])).status_code == 200
        drain()
        assert Event.objects.get().level == "warning"

    def test_odd_shapes_in_the_sentry_event_are_filled_where_they_can_be(self, post_unreal):
        odd = {
            "event_id": "0" * 32,
            "user": "someone",
            "tags": [["a", "b"]],
            "contexts": None,
            "breadcrumbs": "x",
        }
        context = CONTEXT_XML.replace(
            json.dumps(SENTRY_EVENT).replace('"', "&quot;").encode(),
            json.dumps(odd).replace('"', "&quot;").encode(),
        )
        body = crash_report([("CrashContext.runtime-xml", context), ("Game.log", GAME_LOG)])
        response = post_unreal(body, query="?UserID=|epic-1|")
        assert response.status_code == 200, response.content
        assert response.content not in (b"", b"0" * 32)  # a nil id is no id
        drain()
        stored = Event.objects.get()
        assert stored.data["user"]["username"] == "bruno"
        assert dict(stored.tags)["epic_account_id"] == "epic-1"
        assert dict(stored.tags)["a"] == "b"
        assert len(stored.data["breadcrumbs"]["values"]) == 4
        assert stored.data["contexts"]["unreal"]["crash_guid"] == CRASH_DIRECTORY

    def test_sentry_native_files_in_the_report(self, post_unreal):
        native = {"event_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "release": "native@2"}
        crumb = msgpack.packb({"message": "native step", "timestamp": "2026-12-13T15:54:50Z"})
        files = [
            ("__sentry-event", msgpack.packb(native)),
            ("__sentry-breadcrumb1", crumb),
            ("Game.log", GAME_LOG),
        ]
        response = post_unreal(crash_report(files))
        assert response.content == b"0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        drain()
        stored = Event.objects.get()
        assert stored.release == "native@2"
        messages = [crumb["message"] for crumb in stored.data["breadcrumbs"]["values"]]
        assert messages[0] == "native step"
        assert len(messages) == 5
        # The event and breadcrumb files are the event's, not attachments.
        assert Attachment.objects.get().name == "Game.log"

    def test_the_user_id_of_the_query(self, post_unreal):
        query = "?AppID=Shooter&UploadType=crashreports&UserID=player-7|epic-1|machine-9"
        response = post_unreal(crash_report(), query=query)
        assert response.status_code == 200, response.content
        drain()
        stored = Event.objects.get()
        assert stored.data["user"]["id"] == "player-7"
        tags = dict(stored.tags)
        assert (tags["epic_account_id"], tags["machine_id"]) == ("epic-1", "machine-9")

    def test_a_report_with_only_a_log(self, post_unreal):
        response = post_unreal(crash_report([("Game.log", GAME_LOG)]))
        assert response.status_code == 200, response.content
        drain()
        stored = Event.objects.get()
        assert stored.level == "fatal"
        assert len(stored.data["breadcrumbs"]["values"]) == 4
        assert Attachment.objects.get().attachment_type == "unreal.logs"

    def test_a_quota_drops_the_report_with_200_and_its_id(self, post_unreal, key):
        ProjectQuota.objects.create(
            project=key.project, category="error", count=0, window_seconds=60
        )
        response = post_unreal(crash_report())
        assert response.status_code == 200, response.content
        assert len(response.content) == 32
        # The event and its attachments go; the player's comment is a category of its own,
        # which the quota does not cover (as in Relay).
        assert list(QueuedItem.objects.values_list("type", flat=True)) == ["user_report"]


def _context_file(xml: bytes) -> bytes:
    return crash_report([("CrashContext.runtime-xml", xml)])


ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE C [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">]>
<C><RuntimeProperties><ErrorMessage>&a;&a;&a;&a;</ErrorMessage></RuntimeProperties></C>"""


def _bad_bodies() -> dict[str, tuple[bytes, int, str]]:
    files = [("CrashContext.runtime-xml", CONTEXT_XML), ("Game.log", GAME_LOG)]
    report = container(files)
    last = len(GAME_LOG)
    # The log's bytes cut short: its declared length runs into the trailing header.
    short_file = report.replace(GAME_LOG, GAME_LOG[: last // 2])
    # A whole trailing header, then more bytes, then a file count that still reads right.
    data_after = report + b"\0\0\0\0" + struct.pack("<i", len(files))
    empty_files = container([("f", b"")] * 1001)
    bad_event = msgpack.packb({b"key": 1}, use_bin_type=True)
    return {
        "empty body": (b"", 400, "empty request body"),
        "not zlib": (b"PK\x03\x04 a zip file", 400, "incorrect header check"),
        "truncated zlib stream": (zlib.compress(report)[:-10], 400, "truncated zlib stream"),
        "a file cut short": (zlib.compress(short_file), 400, "truncated file 'Game.log'"),
        "data after the trailing header": (zlib.compress(data_after), 400, "data after the files"),
        "more files than a crash reporter writes": (zlib.compress(empty_files), 400, "1001 files"),
        "a million files declared": (
            zlib.compress(report[:-4] + struct.pack("<i", 10**6)),
            400,
            "1000000 files",
        ),
        "context that is not XML": (_context_file(b"<a><b></a>"), 400, "mismatched tag"),
        "context with entities": (_context_file(ENTITY_BOMB), 400, "document type declaration"),
        "context in an unknown encoding": (
            _context_file(b'<?xml version="1.0" encoding="x-unknown"?><C/>'),
            400,
            "unknown encoding",
        ),
        "context in an encoding expat does not take": (
            _context_file(b'<?xml version="1.0" encoding="utf-7"?><C/>'),
            400,
            "multi-byte encodings",
        ),
        "context over the event size limit": (
            _context_file(b"<C><GameData>" + b"<a/>" * 300_000 + b"</GameData></C>"),
            413,
            "crash context exceeds",
        ),
        "__sentry that is not JSON": (
            _context_file(b"<C><GameData><__sentry>{nope</__sentry></GameData></C>"),
            400,
            "bad __sentry event",
        ),
        "sentry-native event with a bytes key": (
            crash_report([("__sentry-event", bad_event)]),
            400,
            "invalid event",
        ),
        "decompression bomb": (
            zlib.compress(bytes(3 * 1024 * 1024), 9),
            413,
            "exceeded size limits",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_bodies()))
def test_bad_reports_are_refused_and_nothing_is_queued(post_unreal, settings, case):
    settings.INGEST_MAX_ENVELOPE_BYTES = 2 * 1024 * 1024
    body, status, reason = _bad_bodies()[case]
    answer = assert_status(post_unreal(body), status)
    assert reason in answer["detail"]
    assert not QueuedItem.objects.exists()


class TestCredentials:
    def test_a_key_of_another_project_is_refused(self, client, key):
        other = ProjectKeyFactory()
        url = unreal_url(key, public_key=other.public_key)
        response = client.post(url, data=crash_report(), content_type="application/octet-stream")
        assert_status(response, 403)

    def test_an_unknown_key_is_refused(self, client, key):
        url = unreal_url(key, public_key="0" * 32)
        response = client.post(url, data=crash_report(), content_type="application/octet-stream")
        assert_status(response, 403)

    def test_a_second_credential_is_ambiguous(self, client, key):
        url = unreal_url(key, query=f"?sentry_key={key.public_key}")
        response = client.post(url, data=crash_report(), content_type="application/octet-stream")
        assert_status(response, 401)

    def test_only_post(self, client, key):
        assert_status(client.get(unreal_url(key)), 405)
        assert not QueuedItem.objects.exists()


class TestContainer:
    def test_files_in_order(self):
        files = [("a.txt", b"first"), ("empty", b""), ("b.bin", b"\x00\x01")]
        assert unpack_container(container(files)) == files

    def test_no_files(self):
        assert unpack_container(container([])) == []

    def test_a_broken_container_is_a_bad_request(self):
        with pytest.raises(BadRequest):
            unpack_container(b"\x01\x00")


class TestLogs:
    def test_lines_without_a_time_take_the_next_one_or_the_opening(self):
        crumbs = log_breadcrumbs(GAME_LOG)
        assert [c["timestamp"] for c in crumbs] == [
            "2026-12-13T15:54:55.120000+00:00",
            "2026-12-13T15:54:55.120000+00:00",
            "2026-12-13T15:54:57.342000+00:00",
            "2026-12-13T15:54:58.001000+00:00",
        ]
        untimed = b"Log file open, 12/13/26 15:54:53\nLogWindows: one\nplain line\n"
        crumbs = log_breadcrumbs(untimed)
        assert crumbs == [
            {"message": "one", "category": "LogWindows", "timestamp": "2026-12-13T15:54:53+00:00"},
            {"message": "plain line", "timestamp": "2026-12-13T15:54:53+00:00"},
        ]

    def test_a_long_log_is_read_from_its_end(self):
        lines = b"".join(b"LogTemp: line %d\n" % n for n in range(100_000))
        crumbs = log_breadcrumbs(b"Log file open, 12/13/26 15:54:53\n" + lines, limit=2)
        assert [c["message"] for c in crumbs] == ["line 99998", "line 99999"]
        assert crumbs[0]["timestamp"] == "2026-12-13T15:54:53+00:00"

    def test_only_the_last_lines(self):
        log = b"header\n" + b"".join(b"LogTemp: line %d\n" % n for n in range(100))
        crumbs = log_breadcrumbs(log, limit=3)
        assert [c["message"] for c in crumbs] == ["line 97", "line 98", "line 99"]


def test_crash_report_client_upload_with_curl(faultline_server, key, tmp_path):
    """The engine's CrashReportClient posts the compressed container as an octet stream to
    the keys API's `dsn.unreal` URL (its data router URL), with its own query parameters."""
    path = tmp_path / "report.uecrash"
    path.write_bytes(crash_report())
    unreal_dsn = ProjectKeySerializer().get_dsn(key)["unreal"]
    assert unreal_dsn.startswith(faultline_server.url)
    query = "AppID=Shooter&AppVersion=1.4.2&AppEnvironment=Shipping&UploadType=crashreports"
    url = f"{unreal_dsn}?{query}"
    result = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "curl",
            "-sS",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            f"@{path}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    event_id = result.stdout.strip()
    assert len(event_id) == 32, result.stdout
    drain()
    stored = Event.objects.get(event_id=event_id)
    assert stored.release == "shooter@1.4.2"
    assert Attachment.objects.filter(event_id=event_id).count() == 4
