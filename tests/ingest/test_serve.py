"""`manage.py serve`: gunicorn and the digest worker in one process tree, as `make run` uses."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from groups.models import Event
from projects import services as project_services
from tests.conftest import _free_port, _server_environment
from tests.ingest.conftest import auth_header, event_envelope


@pytest.mark.django_db(transaction=True)
def test_serve_accepts_and_digests_without_another_process(organization, tmp_path):
    key = project_services.create_project(organization=organization, name="served").keys.get()
    port = _free_port()
    env = _server_environment(f"http://127.0.0.1:{port}")
    # On PostgreSQL a data directory of its own (on SQLite it is the test database's, where
    # the live test server opens no control socket): no other gunicorn's socket is there.
    env.setdefault("FAULTLINE_DATA_DIR", str(tmp_path))
    Path(env["FAULTLINE_DATA_DIR"], "static").mkdir(exist_ok=True)
    # gunicorn's control socket: this instance's own, not the user's shared default.
    control_socket = Path(env["FAULTLINE_DATA_DIR"], "gunicorn.ctl")
    serve = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/{key.project_id}/envelope/",
            data=event_envelope({"message": "served and digested"}),
            headers={"X-Sentry-Auth": auth_header(key.public_key)},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        while not Event.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Event.objects.get().title == "served and digested"
        assert stat.S_ISSOCK(control_socket.stat().st_mode)
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
    assert not control_socket.exists()
