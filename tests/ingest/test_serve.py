"""`manage.py serve`: the web server and the digest worker in one process tree, as `make run`
uses."""

from __future__ import annotations

import signal
import socket
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
    env.setdefault("FAULTLINE_DATA_DIR", str(tmp_path))
    Path(env["FAULTLINE_DATA_DIR"], "static").mkdir(exist_ok=True)
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
        web = _children_of(serve.pid)
        workers = [pid for parent in web for pid in _children_of(parent)]
        assert len(web) == 1, web
        assert len(workers) == 1, workers
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
    assert not any(_alive(pid) for pid in [*web, *workers])
    assert not _listening(port)


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid) and fields[0] != "Z":
            children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="Linux: PR_SET_PDEATHSIG and /proc")
@pytest.mark.django_db(transaction=True)
def test_the_web_server_its_workers_and_extra_digest_workers_stop_when_serve_is_killed(
    tmp_path,
):
    # A digest that crashes (segfault, OOM killer) takes serve with it: the web server must
    # not go on accepting events that nobody digests, nor keep the port from a restarted serve.
    port = _free_port()
    env = _server_environment(f"http://127.0.0.1:{port}")
    env.setdefault("FAULTLINE_DATA_DIR", str(tmp_path))
    Path(env["FAULTLINE_DATA_DIR"], "static").mkdir(exist_ok=True)
    command = [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{port}"]
    serve = subprocess.Popen(  # noqa: S603
        [*command, "--workers", "1", "--digest-workers", "2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while len(children := _children_of(serve.pid)) < 2 or not _listening(port):
            assert time.monotonic() < deadline, "serve did not start the web and a digest"
            time.sleep(0.1)
        # The web server's worker, a grandchild of serve, too.
        children += [pid for child in children for pid in _children_of(child)]
        assert len(children) == 3, children
        serve.kill()
        serve.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in children) or _listening(port):
            assert time.monotonic() < deadline, [pid for pid in children if _alive(pid)]
            time.sleep(0.1)
    finally:
        if serve.poll() is None:
            serve.kill()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True
