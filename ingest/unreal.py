"""Unreal Engine crash reports (`/api/<id>/unreal/<key>/`), as the engine's CrashReportClient
sends them, turned into an envelope: an event, its attachments and the player's comment.

The body is a zlib stream holding Unreal's crash container (as symbolic-unreal reads it):
a header (directory name, file name, uncompressed size, file count) written first as a
placeholder and again at the end with the real values, and between the two the files, each
its index (i32), name and length (i32), then its bytes. Strings are a u32 length and that many
bytes, NUL-padded; integers are little-endian.

What Relay makes of a report, Faultline makes of it too (relay-server's utils/unreal.rs):
- every file is attached, typed by name or magic bytes (the minidump as `event.minidump`,
  `CrashContext.runtime-xml` as `unreal.context`, `*.log` as `unreal.logs`…);
- the event is the `__sentry` JSON of the context's GameData (sentry-unreal puts it there), or
  sentry-native's `__sentry-event` file, or a new one; the crash context fills its message,
  user, level, device, OS, GPU, `game` and `unreal` contexts and SDK; the last 40 log lines
  become breadcrumbs; the minidump's exception record is its exception, as for minidump
  uploads (not symbolicated);
- a player's description (UserDescription) becomes a user report;
- the query's `UserID` (`user id|Epic account id|machine id`) names the user.

The context is read by the standard library's XML parser: expat 2.4.1 and later refuse entity
expansion attacks, and ElementTree fetches no external entities.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from ingest.body import TOO_LARGE, decompress_once
from ingest.envelope import Envelope, Item
from ingest.exceptions import BadRequest
from ingest.minidump import (
    BREADCRUMB_FIELDS,
    EVENT_FIELD,
    attachment_item,
    describe_crash,
    merge_event,
    native_event,
)

JSON = dict[str, Any]
CONTEXT_FILE = "CrashContext.runtime-xml"
CONFIG_FILE = "CrashReportClient.ini"
SDK_NAME = "unreal.crashreporter"
SENTRY_PAYLOAD_KEY = "__sentry"
MAX_LOG_BREADCRUMBS = 40
# More files than any crash reporter writes: a body of empty entries is refused early.
MAX_FILES = 1000
INVALID = "invalid unreal crash report"

# RuntimeProperties elements: the key each gets in the `unreal` context, and its type (Relay
# serializes symbolic-unreal's struct; other elements go to `custom`).
_RUNTIME_PROPERTIES: dict[str, tuple[str, type]] = {
    "CrashGUID": ("crash_guid", str),
    "ProcessId": ("process_id", int),
    "IsInternalBuild": ("is_internal_build", bool),
    "IsSourceDistribution": ("is_source_distribution", bool),
    "IsAssert": ("is_assert", bool),
    "IsEnsure": ("is_ensure", bool),
    "CrashType": ("crash_type", str),
    "SecondsSinceStart": ("seconds_since_start", int),
    "GameName": ("game_name", str),
    "ExecutableName": ("executable_name", str),
    "BuildConfiguration": ("build_configuration", str),
    "PlatformName": ("platform_name", str),
    "EngineMode": ("engine_mode", str),
    "EngineVersion": ("engine_version", str),
    "LanguageLCID": ("language_lcid", int),
    "AppDefaultLocale": ("app_default_locate", str),
    "BuildVersion": ("build_version", str),
    "IsUE4Release": ("is_ue4_release", bool),
    "UserName": ("username", str),
    "BaseDir": ("base_dir", str),
    "RootDir": ("root_dir", str),
    "MachineId": ("machine_id", str),
    "LoginId": ("login_id", str),
    "EpicAccountId": ("epic_account_id", str),
    "CallStack": ("legacy_call_stack", str),
    "PCallStack": ("portable_call_stack", str),
    "UserDescription": ("user_description", str),
    "ErrorMessage": ("error_message", str),
    "CrashReporterMessage": ("crash_reporter_message", str),
    "Misc.NumberOfCores": ("misc_number_of_cores", int),
    "Misc.NumberOfCoresIncludingHyperthreads": ("misc_number_of_cores_inc_hyperthread", int),
    "Misc.Is64bitOperatingSystem": ("misc_is_64bit", bool),
    "Misc.CPUVendor": ("misc_cpu_vendor", str),
    "Misc.CPUBrand": ("misc_cpu_brand", str),
    "Misc.PrimaryGPUBrand": ("misc_primary_gpu_brand", str),
    "Misc.OSVersionMajor": ("misc_os_version_major", str),
    "Misc.OSVersionMinor": ("misc_os_version_minor", str),
    "GameStateName": ("game_state_name", str),
    "MemoryStats.TotalPhysical": ("memory_stats_total_physical", int),
    "MemoryStats.TotalVirtual": ("memory_stats_total_virtual", int),
    "MemoryStats.PageSize": ("memory_stats_page_size", int),
    "MemoryStats.TotalPhysicalGB": ("memory_stats_total_phsysical_gb", int),
    "TimeOfCrash": ("time_of_crash", int),
    "bAllowToBeContacted": ("allowed_to_be_contacted", bool),
    "CrashReportClientVersion": ("crash_reporter_client_version", str),
    "Modules": ("modules", str),
}
# EngineData values that describe the GPU (Unreal's DynamicRHI.cpp) and their `gpu` keys.
_GPU_ENGINE_DATA = {
    "RHI.AdapterName": "name",
    "RHI.DeviceId": "id",
    "RHI.FeatureLevel": "graphics_shader_level",
    "RHI.GPUVendor": "vendor_name",
    "RHI.UserDriverVersion": "version",
    "RHI.RHIName": "api_type",
}
# `[2019.03.28-12.55.12:345][  0]LogWindows: message`; the time and the category optional.
_LOG_LINE = re.compile(
    r"(?:\[(\d{4})\.(\d\d)\.(\d\d)-(\d\d)\.(\d\d)\.(\d\d):(\d{3})\]\[\s*\d+\])?"
    r"(?:([A-Za-z_][\w.]*): )?(.*)"
)
# The log's first line: `Log file open, 12/13/18 15:54:53` (month first, local time).
_LOG_OPENED = re.compile(r"Log file open, (\d\d)/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)$")


def envelope_from_unreal(body: bytes, *, user_id: str | None, max_bytes: int) -> Envelope:
    """The envelope of an Unreal crash report: event first, then the files as attachments,
    then the player's comment as a user report; at most `max_bytes` unpacked (else 413)."""
    files = unpack_container(_inflate(body, max_bytes=max_bytes))
    context = next((_read_context(data) for name, data in files if name == CONTEXT_FILE), None)
    event = _initial_event(files, context)
    minidump = next((data for name, data in files if data.startswith(b"MDMP")), None)
    _describe(event, context=context, minidump=minidump, user_id=user_id)
    _add_log_breadcrumbs(event, [data for name, data in files if name.endswith(".log")])
    items = [Item("event", {}, json.dumps(event, default=str).encode())]
    for name, data in files:
        if name not in (EVENT_FIELD, *BREADCRUMB_FIELDS):
            kind = _file_type(name, data)
            items.append(attachment_item(data, filename=name, attachment_type=kind))
    comment = (context or {}).get("runtime", {}).get("UserDescription")
    if comment:
        username = context["runtime"].get("UserName") or "unknown"
        report = {"event_id": event["event_id"], "name": username, "email": "", "comments": comment}
        items.append(Item("user_report", {}, json.dumps(report).encode()))
    return Envelope(headers={"event_id": event["event_id"]}, items=items)


def _inflate(body: bytes, *, max_bytes: int) -> bytes:
    return decompress_once(
        zlib.decompressobj(),
        body,
        max_bytes=max_bytes,
        invalid=INVALID,
        truncated="truncated zlib stream",
        too_large=TOO_LARGE,
    )


def unpack_container(data: bytes) -> list[tuple[str, bytes]]:
    """The (name, bytes) of every file in an unpacked crash container, in its order."""
    try:
        (count,) = struct.unpack_from("<i", data, len(data) - 4)
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


def _file_type(name: str, data: bytes) -> str:
    """The attachment type of a file of the report (symbolic-unreal's file types)."""
    if name == CONTEXT_FILE:
        return "unreal.context"
    if name == CONFIG_FILE:
        return "event.attachment"
    if name.endswith(".log"):
        return "unreal.logs"
    if data.startswith(b"MDMP"):
        return "event.minidump"
    if data.startswith(b"Incident Identifier:"):
        return "event.applecrashreport"
    return "event.attachment"


def _read_context(data: bytes) -> JSON:
    """The crash context's sections: RuntimeProperties, EngineData and GameData, each a
    mapping of element name to text."""
    try:
        root = ElementTree.fromstring(data)  # noqa: S314 (expat >= 2.4.1; see above)
    except ElementTree.ParseError as exc:
        raise BadRequest(f"{INVALID}: bad crash context ({exc})") from None
    sections = {"runtime": "RuntimeProperties", "engine": "EngineData", "game": "GameData"}
    context: JSON = {}
    for key, tag in sections.items():
        element = root.find(tag)
        children = element if element is not None else ()
        context[key] = {child.tag: child.text or "" for child in children}
    return context


def _initial_event(files: list[tuple[str, bytes]], context: JSON | None) -> JSON:
    """The event the report carries: the context's `__sentry` JSON, or sentry-native's
    msgpack files, or an empty one."""
    payload = (context or {}).get("game", {}).get(SENTRY_PAYLOAD_KEY, "")
    native = native_event({name: io.BytesIO(data) for name, data in files})
    event: JSON = {}
    if payload.strip():
        try:
            loaded = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"{INVALID}: bad __sentry event ({exc})") from None
        if isinstance(loaded, dict):
            event = loaded
    merge_event(event, native)
    return event


def _describe(
    event: JSON, *, context: JSON | None, minidump: bytes | None, user_id: str | None
) -> None:
    runtime = _runtime_properties((context or {}).get("runtime", {}))
    if not event.get("level") and (runtime.get("is_assert") or runtime.get("is_ensure")):
        event["level"] = "error" if runtime.get("is_assert") else "warning"
    describe_crash(event, minidump)
    if user_id:
        _merge_user_id(event, user_id)
    _merge_context(event, event["contexts"], runtime, context or {})


def _merge_user_id(event: JSON, user_id: str) -> None:
    """The query's `UserID`: `user id|Epic account id|machine id`, any part empty."""
    parts = [*user_id.split("|"), "", ""]
    user = _object(event, "user")
    if parts[0]:
        user["id"] = parts[0]
    tags = event.get("tags")
    if not isinstance(tags, dict | list):
        tags = event["tags"] = {}
    for key, value in (("epic_account_id", parts[1]), ("machine_id", parts[2])):
        if value:
            if isinstance(tags, dict):
                tags[key] = value
            else:
                tags.append([key, value])


def _runtime_properties(elements: dict[str, str]) -> JSON:
    """RuntimeProperties as the `unreal` context's keys and types; others under `custom`."""
    properties: JSON = {}
    custom: dict[str, str] = {}
    for tag, text in elements.items():
        if tag not in _RUNTIME_PROPERTIES:
            custom[tag] = text
            continue
        key, kind = _RUNTIME_PROPERTIES[tag]
        value = _typed(text.strip() if kind is not str else text, kind)
        if value is not None:
            properties[key] = value
    if custom:
        properties["custom"] = custom
    return properties


def _typed(text: str, kind: type) -> Any:
    if kind is bool:
        return {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
    if kind is int:
        return int(text) if re.fullmatch(r"-?\d{1,20}", text) else None
    return text or None


def _merge_context(event: JSON, contexts: JSON, runtime: JSON, context: JSON) -> None:
    """What the crash context says, where the event does not say it already."""
    message = runtime.pop("error_message", None)
    if message and not event.get("logentry") and not event.get("message"):
        event["logentry"] = {"formatted": message}
    user = _object(event, "user")
    username = runtime.pop("username", None)
    if username:
        user.setdefault("username", username)
    if runtime.get("login_id") and not user.get("id"):
        user["id"] = runtime["login_id"]
    if not user:
        event.pop("user")
    memory = runtime.pop("memory_stats_total_physical", None)
    if memory is not None:
        _object(contexts, "device").setdefault("memory_size", memory)
    os_name = runtime.pop("misc_os_version_major", None)
    if os_name:
        _object(contexts, "os").setdefault("raw_description", os_name)
    _merge_gpu(contexts, runtime, context.get("engine", {}))
    game = {key: text for key, text in context.get("game", {}).items() if key != SENTRY_PAYLOAD_KEY}
    if game:
        _object(contexts, "game").update(game)
    runtime.pop("modules", None)
    runtime.pop("user_description", None)
    version = runtime.pop("crash_reporter_client_version", None) or "0.0.0"
    if not isinstance(event.get("sdk"), dict):
        event["sdk"] = {"name": SDK_NAME, "version": version}
    if runtime:
        _object(contexts, "unreal").update(runtime)


def _merge_gpu(contexts: JSON, runtime: JSON, engine: dict[str, str]) -> None:
    found = {key: engine[tag] for tag, key in _GPU_ENGINE_DATA.items() if engine.get(tag)}
    if "RHI.AdapterName" not in engine:
        brand = runtime.pop("misc_primary_gpu_brand", None)
        if brand:
            found["name"] = brand
    if found:
        gpu = _object(contexts, "gpu")
        for key, value in found.items():
            gpu.setdefault(key, value)


def _object(parent: JSON, key: str) -> JSON:
    if not isinstance(parent.get(key), dict):
        parent[key] = {}
    return parent[key]


def _add_log_breadcrumbs(event: JSON, logs: list[bytes]) -> None:
    """The last MAX_LOG_BREADCRUMBS lines of the report's logs, after the event's own."""
    crumbs = [crumb for data in logs for crumb in log_breadcrumbs(data)][:MAX_LOG_BREADCRUMBS]
    if not crumbs:
        return
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, list):
        breadcrumbs = {"values": breadcrumbs}
    if not isinstance(breadcrumbs, dict) or not isinstance(breadcrumbs.get("values"), list):
        breadcrumbs = {"values": []}
    breadcrumbs["values"].extend(crumbs)
    event["breadcrumbs"] = breadcrumbs


def log_breadcrumbs(data: bytes, limit: int = MAX_LOG_BREADCRUMBS) -> list[JSON]:
    """Breadcrumbs of an Unreal log's last `limit` lines after its first (the header). A
    line without a time of its own takes that of the next line that has one, or the time
    the log was opened (local time, taken as UTC, as Relay does)."""
    lines = data.decode("utf-8", "replace").splitlines()
    opened = _log_opened(lines[0]) if lines else None
    crumbs: list[JSON] = []
    moment = None
    for line in reversed(lines[1:]):
        if len(crumbs) == limit:
            break
        if not line.strip():
            continue
        match = _LOG_LINE.fullmatch(line)
        stamp = _log_time(match.groups()[:7]) if match else None
        moment = stamp or moment
        crumb: JSON = {"message": match.group(9) if match else line}
        if match and match.group(8):
            crumb["category"] = match.group(8)
        if moment or opened:
            crumb["timestamp"] = (moment or opened).isoformat()
        crumbs.append(crumb)
    crumbs.reverse()
    return crumbs


def _log_time(parts: tuple[str | None, ...]) -> datetime | None:
    if parts[0] is None:
        return None
    year, month, day, hour, minute, second, millis = (int(part) for part in parts)
    try:
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
    except ValueError:
        return None


def _log_opened(line: str) -> datetime | None:
    match = _LOG_OPENED.search(line.strip())
    if match is None:
        return None
    month, day, year, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
