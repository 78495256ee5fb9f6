"""The access log under gunicorn: SDK requests that went well are not logged, the rest is."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from projects import services as project_services
from tests.conftest import _free_port, _server_environment
from tests.ingest.conftest import auth_header, event_envelope


def _serve(port: int, log_path, **env) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1"]
    command += ["--access-logfile", str(log_path)]
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=settings.BASE_DIR,
        env={**_server_environment(f"http://127.0.0.1:{port}"), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return process
        time.sleep(0.1)
    process.kill()
    pytest.fail("gunicorn did not start")


def _status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _requests(port: int, key) -> list[int]:
    base = f"http://127.0.0.1:{port}"
    envelope = f"{base}/api/{key.project_id}/envelope/"
    good = {"X-Sentry-Auth": auth_header(key.public_key)}
    unknown = {"X-Sentry-Auth": auth_header("0" * 32)}
    sent = [
        urllib.request.Request(envelope, data=event_envelope(), headers=good),  # noqa: S310
        urllib.request.Request(envelope, data=event_envelope(), headers=unknown),  # noqa: S310
        urllib.request.Request(f"{base}/api/0/"),  # noqa: S310
    ]
    return [_status(request) for request in sent]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("log_ingest", [False, True])
def test_successful_sdk_requests_are_left_out_unless_asked_for(organization, tmp_path, log_ingest):
    key = project_services.create_project(organization=organization, name="logged").keys.get()
    port = _free_port()
    log_path = tmp_path / "access.log"
    process = _serve(port, log_path, ACCESS_LOG_INGEST="true" if log_ingest else "false")
    try:
        statuses = _requests(port, key)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert statuses == [200, 403, 200]
    lines = log_path.read_text().splitlines()
    logged = [(line.split('"')[1].split()[1], line.split('"')[2].split()[0]) for line in lines]
    envelope_path = f"/api/{key.project_id}/envelope/"
    expected = [(envelope_path, "403"), ("/api/0/", "200")]
    if log_ingest:
        expected.insert(0, (envelope_path, "200"))
    assert logged == expected
