"""Shared fixtures: personas around one organization, and test-friendly static files."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from organizations.roles import Role
from tests.organizations.factories import (
    OrganizationFactory,
    OrganizationMemberFactory,
    UserFactory,
)


@pytest.fixture(scope="session")
def _static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("static")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings, _static_root):
    # The manifest storage needs `collectstatic`; tests render admin pages without it.
    settings.STATIC_ROOT = _static_root
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    # Attachments written by a test go to its own directory, not the checkout's var/.
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture
def organization():
    return OrganizationFactory()


@pytest.fixture
def owner(organization):
    return OrganizationMemberFactory(organization=organization, role=Role.OWNER).user


@pytest.fixture
def member(organization):
    return OrganizationMemberFactory(organization=organization, role=Role.MEMBER).user


@pytest.fixture
def outsider():
    """A user who belongs to another organization only."""
    return OrganizationMemberFactory(role=Role.OWNER).user


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    # SQLite tests use a file (not Django's in-memory default), so that a live server
    # in another process (gunicorn, for the real-client tests) shares the test database.
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        path = tmp_path_factory.mktemp("data") / "faultline.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(path)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen

    def dsn(self, key) -> str:
        scheme, _, host = self.url.partition("://")
        return f"{scheme}://{key.public_key}@{host}/{key.project_id}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_environment(url: str) -> dict[str, str]:
    database = connection.settings_dict
    env = {
        **os.environ,
        "SECRET_KEY": "live-test-server",
        "FAULTLINE_BASE_URL": url,
        "LOG_LEVEL": "warning",
    }
    env.pop("DEBUG", None)
    if database["ENGINE"].endswith("sqlite3"):
        env.pop("DATABASE_URL", None)
        env["FAULTLINE_DATA_DIR"] = str(Path(database["NAME"]).parent)
    else:
        credentials = quote(database["USER"] or "")
        if database["PASSWORD"]:
            credentials += ":" + quote(database["PASSWORD"])
        env["DATABASE_URL"] = (
            f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        )
    Path(env.get("FAULTLINE_DATA_DIR", settings.DATA_DIR), "static").mkdir(
        parents=True, exist_ok=True
    )
    return env


@contextlib.contextmanager
def web_server(
    port: int,
    *,
    workers: int = 1,
    stdout: int | None = subprocess.DEVNULL,
    stderr: int | None = subprocess.DEVNULL,
    **env: str,
):
    """Faultline's web server (config/server.py) on `port`, on the test database, with
    `env` added to its environment; the running process."""
    command = [sys.executable, "-m", "config.server", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(  # noqa: S603
        [*command, "--workers", str(workers)],
        cwd=settings.BASE_DIR,
        env={**_server_environment(f"http://127.0.0.1:{port}"), **env},
        stdout=stdout,
        stderr=stderr,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the web server did not start (exit code {process.poll()})")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def live_server_process(django_db_setup):
    """Faultline's web server (config/server.py, as `serve` runs it in production) on the
    test database, for real clients; its output is the test run's."""
    port = _free_port()
    with web_server(port, workers=2, stdout=None, stderr=None) as process:
        yield LiveServer(url=f"http://127.0.0.1:{port}", process=process)


@pytest.fixture
def asgi_connections_closed(monkeypatch):
    """For config.asgi driven in this process: its ingest threads and WSGI pool outlive the
    test, so their database connections are closed at the end of each request (as with
    CONN_MAX_AGE=0), not left open on the test database until it is dropped."""
    from django.db import DEFAULT_DB_ALIAS, connections

    monkeypatch.setitem(connections.settings[DEFAULT_DB_ALIAS], "CONN_MAX_AGE", 0)


@pytest.fixture
def faultline_server(live_server_process, transactional_db, settings):
    """The live server, with this test's data committed where the server can see it."""
    settings.FAULTLINE_BASE_URL = live_server_process.url
    return live_server_process


@pytest.fixture
def api_client_for():
    """An API client holding a new API key of `organization` with the given scopes."""
    from rest_framework.test import APIClient

    from tests.organizations.factories import ApiKeyFactory

    def make(organization, scopes=("org:read",), *, scheme="Bearer"):
        api_key = ApiKeyFactory(organization=organization, scopes=list(scopes))
        client = APIClient()
        if scheme == "Basic":
            encoded = base64.b64encode(f"{api_key.plain_key}:".encode()).decode()
            client.credentials(HTTP_AUTHORIZATION=f"Basic {encoded}")
        else:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.plain_key}")
        client.api_key = api_key
        return client

    return make


@pytest.fixture
def api_client(api_client_for, organization):
    """A key of `organization` holding every scope."""
    from organizations.roles import SCOPES

    return api_client_for(organization, SCOPES)


@pytest.fixture
def sentry_cli(faultline_server, tmp_path):
    """`sentry_cli(project)`: a runner of the real sentry-cli (the PyPI wheel) with a personal
    token of a new owner of the project's organization; `run(*args)` returns its stdout."""
    from organizations.roles import SCOPES
    from organizations.services import create_user_token

    executable = shutil.which("sentry-cli") or str(Path(sys.executable).parent / "sentry-cli")

    def for_project(project):
        owner = OrganizationMemberFactory(organization=project.organization, role="owner").user
        _, token = create_user_token(user=owner, label="cli", scopes=SCOPES)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "SENTRY_URL": faultline_server.url,
            "SENTRY_AUTH_TOKEN": token,
            "SENTRY_ORG": project.organization.slug,
            "SENTRY_PROJECT": project.slug,
            "SENTRY_DSN": faultline_server.dsn(project.keys.get(is_default=True)),
            "SENTRY_LOG_LEVEL": "warn",
            "SENTRY_DISABLE_UPDATE_CHECK": "1",
        }

        def run(*args: str) -> str:
            result = subprocess.run(  # noqa: S603
                [executable, *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, (args, result.stdout, result.stderr)
            return result.stdout

        run.owner = owner
        return run

    return for_project


@pytest.fixture(autouse=True)
def _fresh_attachment_usage(monkeypatch):
    """Project ids repeat across tests (rolled back): no attachment usage cached from another."""
    from ingest import attachmentcap

    monkeypatch.setattr(attachmentcap, "usage", attachmentcap.AttachmentUsage())
