"""A real browser (Debian's chromium, headless) reports CSP violations to Faultline under
gunicorn, through a page whose Content-Security-Policy names the key's security endpoint."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from groups.models import Event, Group
from ingest.digest import drain
from ingest.models import QueuedItem

CHROMIUM = shutil.which("chromium")
# An image from elsewhere, an inline script and a style attribute: three violations.
PAGE = (
    b"<!doctype html><html><body><img src='https://blocked.example/pic.png'>"
    b"<script>document.title = 'ran';</script><p style='color: red'>hi</p></body></html>"
)


@contextlib.contextmanager
def page_server(policy: str) -> Iterator[str]:
    """A page served with `policy` as its Content-Security-Policy; yields the page's URL."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Security-Policy", policy)
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/page"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser(url: str, profile) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(  # noqa: S603
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            # Keeps the browser open on the page until it is killed.
            "--remote-debugging-port=0",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (make test installs it)")
def test_chromium_reports_csp_violations(faultline_server, key, tmp_path):
    endpoint = (
        f"{faultline_server.url}/api/{key.project_id}/security/"
        f"?sentry_key={key.public_key}&sentry_release=shop%401.0"
    )
    policy = f"default-src 'self'; img-src 'none'; script-src 'none'; report-uri {endpoint}"
    with page_server(policy) as url, browser(url, tmp_path / "profile"):
        deadline = time.monotonic() + 30
        while QueuedItem.objects.count() < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    drain()
    titles = {group.title: group for group in Group.objects.all()}
    assert set(titles) == {
        "Blocked 'image' from 'blocked.example'",
        "Blocked inline 'script'",
        "Blocked inline style attribute",
    }
    image = Event.objects.get(group=titles["Blocked 'image' from 'blocked.example'"])
    assert image.release == "shop@1.0"
    assert image.data["type"] == "csp"
    assert image.data["request"]["url"] == url
    headers = dict(image.data["request"]["headers"])
    assert "HeadlessChrome" in headers["User-Agent"]
    assert headers["Origin"] == url.removesuffix("/page")
    assert image.data["csp"]["original_policy"] == policy
