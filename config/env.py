"""Typed readers for deploy-time settings taken from the environment."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    """The variable's value, or `default` when it is unset."""
    return os.environ.get(name, default)


def data_dir(base_dir: Path) -> Path:
    """Where this instance keeps its files (SQLite database, secret key, uploads, static
    files, gunicorn's control socket): FAULTLINE_DATA_DIR, else `var/` in the project."""
    return Path(env_str("FAULTLINE_DATA_DIR", str(base_dir / "var"))).resolve()


def env_bool(name: str, *, default: bool) -> bool:
    """A boolean; anything but the usual spellings of true/false is an error."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no)")


def env_int(name: str, *, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    """An integer no smaller than `minimum` (and no larger than `maximum`, if given)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum of {maximum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blank items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_json_object(name: str) -> dict[str, Any]:
    """A JSON object (e.g. a storage backend's options); unset or blank → {}."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object")
    return value


def env_choice(name: str, *, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, compared case-insensitively."""
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def env_base_url(name: str, default: str) -> str:
    """An absolute http(s) URL without a trailing slash, query or fragment."""
    raw = os.environ.get(name, default).strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name}={raw!r} must be an absolute http:// or https:// URL")
    if parts.query or parts.fragment or parts.username:
        raise ImproperlyConfigured(f"{name}={raw!r} must not carry credentials, query or fragment")
    return raw.rstrip("/")


def database_from_url(url: str | None, *, sqlite_path: Path) -> dict[str, Any]:
    """Django's DATABASES['default'] for a `postgres://` URL, or the embedded SQLite file."""
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(sqlite_path),
            # WAL lets readers run beside the single writer; IMMEDIATE transactions take the
            # write lock up front, so concurrent writers wait (up to `timeout` seconds) instead
            # of failing with "database is locked" when a read lock cannot be upgraded.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
                ),
            },
        }
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"DATABASE_URL has a bad port: {url!r}") from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported (use postgres:// or leave "
            "DATABASE_URL unset for the embedded SQLite database)"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL must name a database: postgres://HOST/NAME")
    # Server-side parameter binding: psycopg's client-side quoting of large JSON values
    # (every stored event) costs more CPU than the rest of the digest together.
    options: dict[str, Any] = {"server_side_binding": True}
    for key, value in _query_pairs(parts.query):
        # The one option that is not a libpq string: read true/false as a boolean.
        if key == "server_side_binding":
            options[key] = value.lower() in ("1", "true", "yes", "on")
        else:
            options[key] = value
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(parts.hostname or ""),
        "PORT": str(port or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE_SECONDS", default=60),
        # Off by default: the check is a round trip at the start of every request, which
        # on ingest costs as much as the insert. A connection that broke (database restart)
        # fails one request, and Django replaces it for the next.
        "CONN_HEALTH_CHECKS": env_bool("DATABASE_CONN_HEALTH_CHECKS", default=False),
    }


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def secret_key(path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in `path`."""
    from_env = os.environ.get("SECRET_KEY", "").strip()
    if from_env:
        return from_env
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a private temporary file, then published with link(), which fails if the
    # name exists: when two processes start at once, both end up reading the same full key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
