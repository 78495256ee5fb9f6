"""The crash context (`CrashContext.runtime-xml`): read, and merged into the event as Relay
merges it (relay-server's utils/unreal.rs).

It is read with expat, refusing any document type declaration: Unreal writes none, and without
one no entity can be declared, so nothing expands (expat itself stops only expansions past
100 times the input).
"""

from __future__ import annotations

import re
from typing import Any
from xml.parsers import expat

from django.conf import settings

from ingest.exceptions import BadRequest, PayloadTooLarge
from ingest.unreal.container import INVALID

JSON = dict[str, Any]
SDK_NAME = "unreal.crashreporter"
SENTRY_PAYLOAD_KEY = "__sentry"
_SECTIONS = frozenset({"RuntimeProperties", "EngineData", "GameData"})

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


def read_context(data: bytes) -> dict[str, dict[str, str]]:
    """The context's sections (RuntimeProperties, EngineData, GameData) that it has, each a
    mapping of element name to text."""
    if len(data) > settings.INGEST_MAX_EVENT_BYTES:
        raise PayloadTooLarge("crash context exceeds the event size limit")
    reader = _ContextReader()
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = reader.refuse_doctype
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, LookupError, ValueError) as exc:
        # LookupError, ValueError: an encoding the parser does not know or take.
        raise BadRequest(f"{INVALID}: bad crash context ({exc})") from None
    return reader.sections


class _ContextReader:
    """Collects the text of each element two levels below the root, by section."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, str]] = {}
        self._path: list[str] = []
        self._text: list[str] = []

    def refuse_doctype(self, *args: Any) -> None:
        raise BadRequest(f"{INVALID}: a crash context with a document type declaration")

    def start(self, name: str, attributes: Any) -> None:
        self._path.append(name)
        if len(self._path) == 2 and name in _SECTIONS:
            self.sections.setdefault(name, {})
        self._text = []

    def end(self, name: str) -> None:
        if len(self._path) == 3 and self._path[1] in self.sections:
            self.sections[self._path[1]][name] = "".join(self._text)
        self._path.pop()

    def text(self, text: str) -> None:
        if len(self._path) == 3:
            self._text.append(text)


def runtime_properties(elements: dict[str, str]) -> JSON:
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


def merge_context(event: JSON, context: dict[str, dict[str, str]]) -> None:
    """What the crash context says, where the event does not say it already (nothing when it
    has no RuntimeProperties, as in Relay)."""
    if "RuntimeProperties" not in context:
        return
    runtime = runtime_properties(context["RuntimeProperties"])
    message = runtime.pop("error_message", None)
    if message and not event.get("logentry") and not event.get("message"):
        event["logentry"] = {"formatted": message}
    _merge_user(event, runtime)
    contexts = _object(event, "contexts")
    _merge_device(contexts, runtime, context.get("EngineData", {}))
    game = context.get("GameData", {})
    game = {key: text for key, text in game.items() if key != SENTRY_PAYLOAD_KEY}
    if game:
        _object(contexts, "game").update(game)
    if not isinstance(event.get("sdk"), dict):
        version = runtime.pop("crash_reporter_client_version", None) or "0.0.0"
        event["sdk"] = {"name": SDK_NAME, "version": version}
    # Modules are the minidump's to tell; the description is the user report's.
    runtime.pop("modules", None)
    runtime.pop("user_description", None)
    if runtime:
        _object(contexts, "unreal").update(runtime)


def _merge_user(event: JSON, runtime: JSON) -> None:
    user = _object(event, "user")
    username = runtime.pop("username", None)
    if username and not user.get("username"):
        user["username"] = username
    if runtime.get("login_id") and not user.get("id"):
        user["id"] = runtime["login_id"]
    if not user:
        event.pop("user")


def _merge_device(contexts: JSON, runtime: JSON, engine: dict[str, str]) -> None:
    memory = runtime.pop("memory_stats_total_physical", None)
    if memory is not None:
        _object(contexts, "device").setdefault("memory_size", memory)
    os_name = runtime.pop("misc_os_version_major", None)
    if os_name:
        _object(contexts, "os").setdefault("raw_description", os_name)
    gpu = {key: engine[tag] for tag, key in _GPU_ENGINE_DATA.items() if engine.get(tag)}
    if "RHI.AdapterName" not in engine:
        brand = runtime.pop("misc_primary_gpu_brand", None)
        if brand:
            gpu["name"] = brand
    for key, value in gpu.items():
        _object(contexts, "gpu").setdefault(key, value)


def _object(parent: JSON, key: str) -> JSON:
    if not isinstance(parent.get(key), dict):
        parent[key] = {}
    return parent[key]
