"""Minidump uploads (`/api/<id>/minidump/`), as Crashpad, Breakpad, Electron and sentry-native's
crashpad backend send them, turned into an envelope: an event and its attachments.

The body is either the minidump itself (`application/octet-stream`, `application/x-dmp`) or a
multipart form (https://docs.sentry.io/platforms/native/guides/minidumps/):
- `upload_file_minidump`: the minidump, possibly in a gzip, zstd, bzip2 or xz container;
- `sentry` (JSON), `sentry___<name>` (JSON), `sentry__1`, `sentry__2`… (one JSON in chunks,
  Electron) and `sentry[tags][key]`-style fields: the event; any other field goes to "extra";
- `__sentry-event` (msgpack: the event) and `__sentry-breadcrumb1`/`2` (msgpack breadcrumbs),
  as sentry-native writes them; any other file is attached to the event.

Faultline does not symbolicate: the event says what kind of crash the minidump records (its
exception stream, e.g. `EXCEPTION_ACCESS_VIOLATION_READ` or `SIGSEGV`) and on which system,
and keeps the minidump as an `event.minidump` attachment to download.
"""

from __future__ import annotations

import bz2
import collections
import io
import json
import lzma
import re
import struct
import uuid
import zlib
from typing import Any

import msgpack
from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from ingest.body import decompress_once, zstd_limited
from ingest.envelope import Envelope, Item
from ingest.exceptions import BadRequest, PayloadTooLarge
from ingest.normalize import load_json, parse_timestamp

JSON = dict[str, Any]
MINIDUMP_FIELD = "upload_file_minidump"
NIL_EVENT_ID = "0" * 32
MAX_BREADCRUMBS = 100
TOO_LARGE_MINIDUMP = "minidump exceeds the attachment size limit"
EVENT_FIELD = "__sentry-event"
BREADCRUMB_FIELDS = ("__sentry-breadcrumb1", "__sentry-breadcrumb2")
RAW_CONTENT_TYPES = frozenset({"application/octet-stream", "application/x-dmp"})
_MAGIC = (b"MDMP", b"PMDM")
_CONTAINERS = (".gz", ".xz", ".bz2", ".zst")
_NESTED_FIELD = re.compile(r"sentry((?:\[[^\[\]]+\])+)$")
_CHUNK_FIELD = re.compile(r"sentry__(\d{1,4})$")
# Minidump stream types and the platforms of the system info stream (Breakpad's
# minidump_format.h, Microsoft's MINIDUMP_STREAM_TYPE).
_EXCEPTION_STREAM, _SYSTEM_INFO_STREAM = 6, 7
_PLATFORMS = {
    0: "Windows",
    1: "Windows",
    2: "Windows",
    0x8101: "macOS",
    0x8102: "iOS",
    0x8201: "Linux",
    0x8202: "Solaris",
    0x8203: "Android",
    0x8206: "Fuchsia",
}
_ARCHITECTURES = {0: "x86", 5: "arm", 9: "x86_64", 12: "arm64", 0x8003: "arm64"}
_WINDOWS_CODES = {
    0xC0000005: "EXCEPTION_ACCESS_VIOLATION",
    0xC0000006: "EXCEPTION_IN_PAGE_ERROR",
    0xC000001D: "EXCEPTION_ILLEGAL_INSTRUCTION",
    0xC0000094: "EXCEPTION_INT_DIVIDE_BY_ZERO",
    0xC0000095: "EXCEPTION_INT_OVERFLOW",
    0xC00000FD: "EXCEPTION_STACK_OVERFLOW",
    0xC0000409: "EXCEPTION_STACK_BUFFER_OVERRUN",
    0xC0000374: "EXCEPTION_HEAP_CORRUPTION",
    0x80000003: "EXCEPTION_BREAKPOINT",
    0xE06D7363: "Unhandled C++ Exception",
}
_ACCESS_KINDS = {0: "_READ", 1: "_WRITE", 8: "_EXEC"}
_SIGNALS = {4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}
_MACH_EXCEPTIONS = {
    1: "EXC_BAD_ACCESS",
    2: "EXC_BAD_INSTRUCTION",
    3: "EXC_ARITHMETIC",
    5: "EXC_SOFTWARE",
    6: "EXC_BREAKPOINT",
    10: "EXC_CRASH",
    11: "EXC_RESOURCE",
    12: "EXC_GUARD",
}


def _first_stream(decompressor: Any, data: bytes, max_bytes: int) -> bytes:
    """The first stream (gzip member, bzip2 or xz stream) of `data`: what follows it is
    ignored, as Relay's single-stream decoders do, so that a body of many empty members
    cannot keep the request busy."""
    return decompress_once(
        decompressor,
        data,
        max_bytes=max_bytes,
        invalid="invalid compression container",
        truncated="truncated",
        too_large=TOO_LARGE_MINIDUMP,
    )


def decode_container(data: bytes, *, max_bytes: int) -> bytes:
    """The minidump out of its compression container, if it is in one (by magic bytes, as
    Relay looks); at most `max_bytes` of it."""
    if data.startswith(b"\x1f\x8b"):
        return _first_stream(zlib.decompressobj(16 + zlib.MAX_WBITS), data, max_bytes)
    if data.startswith(b"\xfd7zXZ\x00"):
        return _first_stream(lzma.LZMADecompressor(lzma.FORMAT_XZ), data, max_bytes)
    if data.startswith(b"BZh"):
        return _first_stream(bz2.BZ2Decompressor(), data, max_bytes)
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            return zstd_limited(data, max_bytes=max_bytes)
        except PayloadTooLarge:
            raise PayloadTooLarge(TOO_LARGE_MINIDUMP) from None
    return data


def _stream(data: bytes, stream_type: int) -> bytes | None:
    """One stream of a little-endian minidump, or None."""
    try:
        count, directory = struct.unpack_from("<II", data, 8)
        for index in range(min(count, 1024)):
            kind, size, rva = struct.unpack_from("<III", data, directory + 12 * index)
            if kind == stream_type:
                return data[rva : rva + size]
    except struct.error:
        return None
    return None


def crash_info(data: bytes) -> tuple[str, str, JSON]:
    """What the minidump says of the crash: its exception's name, a description, and the
    operating system and CPU as event contexts. Big-endian minidumps are not read."""
    contexts: JSON = {}
    platform_id = None
    info = _stream(data, _SYSTEM_INFO_STREAM) if data.startswith(b"MDMP") else None
    if info and len(info) >= 24:
        arch, _, _, cpus, _, major, minor, build, platform_id = struct.unpack_from(
            "<HHHBBIIII", info
        )
        contexts["os"] = {
            "name": _PLATFORMS.get(platform_id, f"platform 0x{platform_id:x}"),
            "version": f"{major}.{minor}.{build}",
        }
        contexts["device"] = {"arch": _ARCHITECTURES.get(arch, f"cpu 0x{arch:x}")}
        if cpus:
            contexts["device"]["processor_count"] = cpus
    exception = _stream(data, _EXCEPTION_STREAM) if data.startswith(b"MDMP") else None
    if not exception or len(exception) < 40:
        return "Minidump", "Crash report without an exception record", contexts
    code, flags, _, address, parameters, _ = struct.unpack_from("<IIQQII", exception, 8)
    first = struct.unpack_from("<Q", exception, 40)[0] if parameters and len(exception) >= 48 else 0
    name = _exception_name(code, flags, first, platform_id)
    return name, f"Fatal Error: {name} at 0x{address:x}", contexts


def _exception_name(code: int, flags: int, first: int, platform_id: int | None) -> str:
    if platform_id in (0, 1, 2) or code in _WINDOWS_CODES:
        name = _WINDOWS_CODES.get(code, f"0x{code:08x}")
        if code == 0xC0000005:
            name += _ACCESS_KINDS.get(first, "")
        return name
    if platform_id in (0x8101, 0x8102):
        return _MACH_EXCEPTIONS.get(code, f"0x{code:x}")
    return _SIGNALS.get(code, f"signal {code}")


def merge_event(target: JSON, source: Any) -> None:
    """`source` into `target`, objects merged key by key, anything else replaced."""
    if not isinstance(source, dict):
        return
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_event(target[key], value)
        else:
            target[key] = value


def _set_nested(event: JSON, keys: list[str], value: str) -> None:
    node = event
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = value


def _event_from_fields(fields: dict[str, list[str]]) -> JSON:
    """The event the form's fields carry (Relay's merge_formdata, in short)."""
    event: JSON = {}
    chunks: dict[int, str] = {}
    for name, values in fields.items():
        for value in values:
            if name == "sentry" or name.startswith("sentry___"):
                merge_event(event, _lenient_json(value))
            elif chunk := _CHUNK_FIELD.fullmatch(name):
                chunks[int(chunk.group(1))] = value
            elif nested := _NESTED_FIELD.fullmatch(name):
                _set_nested(event, nested.group(1)[1:-1].split("]["), value)
            else:
                event.setdefault("extra", {})
                if isinstance(event["extra"], dict):
                    event["extra"][name] = value
    if chunks:
        joined = "".join(chunks[index] for index in sorted(chunks))
        merge_event(event, _lenient_json(joined))
    return event


def _lenient_json(value: str) -> Any:
    """A JSON form field; one that does not parse is left out, as Relay does, rather than
    losing the crash report with it."""
    try:
        return load_json(value.encode(), error=BadRequest)
    except BadRequest:
        return None


def _unpacked(data: bytes, what: str, *, keep: int) -> list[Any]:
    """The last `keep` objects of a msgpack file of at most INGEST_MAX_EVENT_BYTES (as Relay
    bounds sentry-native's event and breadcrumb files); its strings decoded leniently."""
    if len(data) > settings.INGEST_MAX_EVENT_BYTES:
        raise PayloadTooLarge(f"{what} file exceeds the event size limit")
    # Arrays and maps no longer than the data has bytes: a 5-byte header declaring millions
    # of entries would otherwise be allocated before the data runs out.
    unpacker = msgpack.Unpacker(
        io.BytesIO(data),
        raw=False,
        strict_map_key=False,
        unicode_errors="replace",
        max_buffer_size=max(len(data), 1),
    )
    kept: collections.deque[Any] = collections.deque(maxlen=keep)
    try:
        kept.extend(unpacker)
    except (ValueError, TypeError, RecursionError, msgpack.UnpackException) as exc:
        # TypeError: a map key that is itself a map or an array (unhashable).
        raise BadRequest(f"invalid {what} (msgpack): {exc}") from None
    return list(kept)


def _parse_form(body: bytes, content_type: str) -> tuple[dict[str, list[str]], dict[str, Any]]:
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    handlers = [MemoryFileUploadHandler(), TemporaryFileUploadHandler()]
    try:
        fields, files = MultiPartParser(meta, io.BytesIO(body), handlers, "utf-8").parse()
    except MultiPartParserError as exc:
        raise BadRequest(f"invalid multipart body: {exc}") from None
    # One file per field name: the last one.
    return dict(fields.lists()), dict(files.items())


def native_event(files: dict[str, Any]) -> JSON:
    """sentry-native's event and breadcrumbs (msgpack files), taken out of `files`."""
    event: JSON = {}
    if EVENT_FIELD in files:
        unpacked = _unpacked(files.pop(EVENT_FIELD).read(), "event", keep=1)
        if unpacked and not isinstance(unpacked[0], dict):
            raise BadRequest("invalid event (msgpack): not a map")
        event = unpacked[0] if unpacked else {}
    crumbs = [
        crumb
        for name in BREADCRUMB_FIELDS
        if name in files
        for crumb in _unpacked(files.pop(name).read(), "breadcrumbs", keep=MAX_BREADCRUMBS)
        if isinstance(crumb, dict)
    ]
    if crumbs:
        # Two files written in turns: in time order, the newest kept (as the SDK keeps them).
        crumbs.sort(key=_breadcrumb_time)
        event["breadcrumbs"] = {"values": crumbs[-MAX_BREADCRUMBS:]}
    return event


def _breadcrumb_time(crumb: JSON) -> float:
    moment = parse_timestamp(crumb.get("timestamp"))
    return moment.timestamp() if moment is not None else float("-inf")


def _filename(name: str) -> str:
    for suffix in _CONTAINERS:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def attachment_item(payload: bytes, *, filename: str, attachment_type: str) -> Item:
    headers = {"attachment_type": attachment_type, "filename": filename[:256]}
    return Item("attachment", headers, payload)


def envelope_from_upload(body: bytes, *, content_type: str, max_bytes: int) -> Envelope:
    """The envelope of a minidump upload: an event and its attachments, the minidump first."""
    if content_type.split(";")[0].strip().lower() in RAW_CONTENT_TYPES:
        return _envelope(body, "Minidump", event={}, others={}, max_bytes=max_bytes)
    fields, files = _parse_form(body, content_type)
    uploads = list(files.values())
    try:
        minidump_file = files.pop(MINIDUMP_FIELD, None)
        if minidump_file is None:
            raise BadRequest("missing minidump upload (upload_file_minidump)")
        event = native_event(files)
        merge_event(event, _event_from_fields(fields))
        minidump = minidump_file.read()
        filename = _filename(minidump_file.name or "Minidump")
        others = {key: (file.name or "attachment", file.read()) for key, file in files.items()}
        return _envelope(minidump, filename, event=event, others=others, max_bytes=max_bytes)
    finally:
        # Uploads past FILE_UPLOAD_MAX_MEMORY_SIZE are temporary files.
        for upload in uploads:
            upload.close()


def _envelope(
    minidump: bytes,
    filename: str,
    *,
    event: JSON,
    others: dict[str, tuple[str, bytes]],
    max_bytes: int,
) -> Envelope:
    minidump = decode_container(minidump, max_bytes=max_bytes)
    if not minidump.startswith(_MAGIC):
        raise BadRequest("invalid minidump")
    describe_crash(event, minidump)
    try:
        payload = json.dumps(event, default=str).encode()
    except (ValueError, TypeError, RecursionError) as exc:
        # TypeError: a msgpack map key that is bytes.
        raise BadRequest(f"invalid event: {exc}") from None
    items = [
        Item("event", {}, payload),
        attachment_item(minidump, filename=filename, attachment_type="event.minidump"),
    ]
    for name, content in others.values():
        items.append(attachment_item(content, filename=name, attachment_type="event.attachment"))
    return Envelope(headers={"event_id": event["event_id"]}, items=items)


def describe_crash(event: JSON, minidump: bytes | None) -> None:
    """What a crash event gets: an id (unless its SDK sent one), `native` platform, `fatal`
    level (unless sent), and the crash the minidump records, if any, as its exception."""
    try:
        event_id = uuid.UUID(str(event.get("event_id"))).hex
    except ValueError:
        event_id = NIL_EVENT_ID
    event["event_id"] = uuid.uuid4().hex if event_id == NIL_EVENT_ID else event_id
    event["platform"] = "native"
    if not event.get("level"):
        event["level"] = "fatal"
    if not isinstance(event.get("contexts"), dict):
        event["contexts"] = {}
    if minidump is None:
        return
    name, description, contexts = crash_info(minidump)
    for key, value in contexts.items():
        event["contexts"].setdefault(key, value)
    # The minidump is the crash: any exception the form named is replaced, as Relay replaces
    # it with its placeholder before symbolication.
    mechanism = {"type": "minidump", "handled": False}
    exception = {"type": name, "value": description, "mechanism": mechanism}
    event["exception"] = {"values": [exception]}
