"""The web server (config/server.py, granian): its access log, and workers that do not outlive
their master."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from projects import services as project_services
from tests.config.test_accesslog import _requests
from tests.conftest import _free_port, web_server
from tests.ingest.test_serve import _alive, _children_of, _listening


def _access_lines(output: bytes) -> list[tuple[str, str]]:
    """(path, status) of each access record the server wrote on stdout."""
    logged = []
    for line in output.decode().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("logger") == "faultline.access":
                request_line, rest = record["message"].split('"')[1:3]
                logged.append((request_line.split()[1], rest.split()[0]))
    return logged


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("log_ingest", [False, True])
def test_the_access_log_leaves_out_sdk_requests_that_went_well(organization, log_ingest):
    key = project_services.create_project(organization=organization, name="logged").keys.get()
    port = _free_port()
    env = {"LOG_LEVEL": "info", "ACCESS_LOG_INGEST": "true" if log_ingest else "false"}
    with web_server(port, stdout=subprocess.PIPE, **env) as process:
        statuses = _requests(port, key)
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert statuses == [200, 403, 200]
    envelope_path = f"/api/{key.project_id}/envelope/"
    expected = [(envelope_path, "403"), ("/api/0/", "200")]
    if log_ingest:
        expected.insert(0, (envelope_path, "200"))
    assert _access_lines(output) == expected


@pytest.mark.django_db(transaction=True)
def test_failed_requests_are_logged_at_warning_level_too(organization):
    """Access lines take Django's levels for answers: with LOG_LEVEL=warning the refused SDK
    request is still logged, the API's 200 is not."""
    key = project_services.create_project(organization=organization, name="quiet").keys.get()
    port = _free_port()
    with web_server(port, stdout=subprocess.PIPE, LOG_LEVEL="warning") as process:
        statuses = _requests(port, key)
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert statuses == [200, 403, 200]
    assert _access_lines(output) == [(f"/api/{key.project_id}/envelope/", "403")]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="Linux: PR_SET_PDEATHSIG and /proc")
@pytest.mark.django_db(transaction=True)
def test_workers_stop_when_the_master_is_killed():
    """A master killed outright (SIGKILL, the OOM killer) cannot stop its workers: they must
    stop by themselves rather than go on serving with nobody to restart them."""
    port = _free_port()
    with web_server(port, workers=2) as process:
        deadline = time.monotonic() + 30
        while len(workers := _children_of(process.pid)) < 2:
            assert time.monotonic() < deadline, workers
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) or _listening(port):
            assert time.monotonic() < deadline, [pid for pid in workers if _alive(pid)]
            time.sleep(0.1)
