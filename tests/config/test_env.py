from __future__ import annotations

import json
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env
from config.logging import JsonFormatter


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("off", False)])
def test_env_bool_reads_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env.env_bool("FLAG", default=not expected) is expected


def test_env_bool_refuses_nonsense(monkeypatch):
    monkeypatch.setenv("DEBUG", "yes please")
    with pytest.raises(ImproperlyConfigured):
        env.env_bool("DEBUG", default=False)


def test_env_int_checks_minimum(monkeypatch):
    monkeypatch.setenv("N", "-1")
    with pytest.raises(ImproperlyConfigured):
        env.env_int("N", default=1, minimum=0)


def test_env_int_checks_a_maximum_when_given(monkeypatch):
    monkeypatch.setenv("N", "20")
    with pytest.raises(ImproperlyConfigured, match="above the maximum of 19"):
        env.env_int("N", default=1, maximum=19)
    assert env.env_int("N", default=1) == 20


@pytest.mark.parametrize("url", ["ftp://host", "errors.example.com", "http://x/?a=1"])
def test_base_url_must_be_plain_http(monkeypatch, url):
    monkeypatch.setenv("FAULTLINE_BASE_URL", url)
    with pytest.raises(ImproperlyConfigured):
        env.env_base_url("FAULTLINE_BASE_URL", "http://127.0.0.1:8000")


def test_sqlite_default_uses_wal_and_immediate_transactions(tmp_path):
    config = env.database_from_url("", sqlite_path=tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] > 0


def test_postgres_url_is_parsed():
    config = env.database_from_url(
        "postgresql://fl%40user:p%3Ass@db.internal:6432/faultline?sslmode=require",
        sqlite_path=None,
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"]) == ("fl@user", "p:ss")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", "6432", "faultline")
    assert config["OPTIONS"] == {"server_side_binding": True, "sslmode": "require"}


@pytest.mark.parametrize("url", ["mysql://root@localhost/db", "postgres://localhost/"])
def test_unsupported_database_urls_are_refused(url):
    with pytest.raises(ImproperlyConfigured):
        env.database_from_url(url, sqlite_path=None)


def test_secret_key_is_generated_once(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    path = tmp_path / "var" / "secret_key"
    first = env.secret_key(path)
    assert len(first) >= 50
    assert env.secret_key(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert list(path.parent.iterdir()) == [path]


def test_secret_key_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert env.secret_key(tmp_path / "secret_key") == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_json_log_lines_keep_extra_fields():
    record = logging.makeLogRecord(
        {
            "name": "ingest",
            "levelname": "WARNING",
            "msg": "dropped %d",
            "args": (3,),
            "project_id": 7,
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "dropped 3"
    assert (line["level"], line["logger"], line["project_id"]) == ("warning", "ingest", 7)


def test_database_url_with_a_bad_port_is_refused():
    with pytest.raises(ImproperlyConfigured):
        env.database_from_url("postgres://h:abc/db", sqlite_path=None)


def test_server_side_binding_can_be_turned_off():
    config = env.database_from_url("postgres://h/db?server_side_binding=false", sqlite_path=None)
    assert config["OPTIONS"]["server_side_binding"] is False
