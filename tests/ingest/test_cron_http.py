"""Sentry's cron HTTP API (`/api/<id>/cron/<slug>/[<key>/]`), as curl scripts and
`sentry-cli monitors run` use cron monitoring."""

from __future__ import annotations

import json
import subprocess
import uuid
from urllib.parse import urlsplit

import pytest

from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from projects.models import Monitor, MonitorCheckIn, ProjectQuota
from projects.serializers import ProjectKeySerializer
from tests.ingest.test_views import assert_status

CONFIG = {"schedule": {"type": "crontab", "value": "0 * * * *"}, "checkin_margin": 5}


def cron_url(key, slug="hourly-sync", *, in_path=True) -> str:
    base = f"/api/{key.project_id}/cron/{slug}/"
    return f"{base}{key.public_key}/" if in_path else base


def accepted(response) -> None:
    assert response.status_code == 202, response.content
    assert response.content == b""
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.django_db
class TestCronEndpoint:
    def test_json_body_creates_the_monitor_then_query_check_ins_run_it(self, client, key):
        body = {"status": "in_progress", "monitor_config": CONFIG, "environment": "prod"}
        accepted(client.post(cron_url(key), data=body, content_type="application/json"))
        accepted(client.get(cron_url(key) + "?status=ok&environment=prod"))
        drain()
        monitor = Monitor.objects.get()
        assert (monitor.slug, monitor.status, monitor.config["checkin_margin"]) == (
            "hourly-sync",
            "ok",
            5,
        )
        run = MonitorCheckIn.objects.get()
        assert (run.status, run.environment) == ("ok", "prod")
        assert run.check_in_id.int != 0
        assert run.duration_ms is not None

    def test_key_from_query_or_header_and_check_in_id_and_duration(self, client, key):
        Monitor.objects.create(project=key.project, slug="hourly-sync", name="s", config=CONFIG)
        check_in_id = uuid.uuid4()
        query = f"?sentry_key={key.public_key}&status=in_progress&check_in_id={check_in_id}"
        accepted(client.post(cron_url(key, in_path=False) + query))
        auth = {"HTTP_X_SENTRY_AUTH": f"Sentry sentry_key={key.public_key}"}
        query = f"?status=error&check_in_id={check_in_id}&duration=12.5"
        accepted(client.get(cron_url(key, in_path=False) + query, **auth))
        drain()
        run = MonitorCheckIn.objects.get()
        assert (run.check_in_id, run.status, run.duration_ms, run.environment) == (
            check_in_id,
            "error",
            12_500.0,
            "production",
        )

    def test_the_keys_apis_crons_url(self, client, key):
        url = urlsplit(ProjectKeySerializer(key).data["dsn"]["crons"])
        path = url.path.replace("___MONITOR_SLUG___", "hourly-sync")
        assert path == cron_url(key)
        body = {"status": "ok", "monitor_config": CONFIG}
        accepted(client.post(path, data=body, content_type="application/json"))
        drain()
        assert MonitorCheckIn.objects.get().status == "ok"

    def test_head_checks_in_like_get(self, client, key):
        accepted(client.head(cron_url(key) + "?status=ok"))
        assert QueuedItem.objects.get().type == "check_in"

    def test_a_monitor_quota_drops_with_202_as_relay_does(self, client, key):
        ProjectQuota.objects.create(
            project=key.project, category="monitor", count=1, window_seconds=60
        )
        accepted(client.get(cron_url(key) + "?status=ok"))
        accepted(client.get(cron_url(key) + "?status=ok"))
        assert QueuedItem.objects.count() == 1
        limited = OutcomeCounter.objects.get(outcome="rate_limited")
        assert (limited.category, limited.quantity) == ("monitor", 1)

    @pytest.mark.parametrize(
        ("request_args", "status", "detail"),
        [
            ({"query": ""}, 400, "invalid check-in (invalid_checkin)"),
            ({"query": "?status=done"}, 400, "invalid check-in (invalid_checkin)"),
            ({"query": "?status=ok&check_in_id=nope"}, 400, "invalid check-in (invalid_checkin)"),
            ({"query": "?status=ok&duration=long"}, 400, "invalid check-in: duration"),
            ({"query": "?status=ok&duration=-1"}, 400, "invalid check-in (invalid_checkin)"),
            ({"body": b"{not json"}, 400, "invalid JSON data"),
            ({"body": b"[1]"}, 400, "invalid JSON data: expected an object"),
            (
                {"body": {"status": "ok", "monitor_config": {"schedule": "daily"}}},
                400,
                "invalid check-in (monitor_invalid_config)",
            ),
            ({"query": f"?status=ok&sentry_key={'a' * 32}"}, 401, "multiple authorization"),
        ],
    )
    def test_bad_check_ins(self, client, key, request_args, status, detail):
        url = cron_url(key) + request_args.get("query", "")
        if "body" in request_args:
            body = request_args["body"]
            data = body if isinstance(body, bytes) else json.dumps(body)
            response = client.post(url, data=data, content_type="application/json")
        else:
            response = client.get(url)
        answer = assert_status(response, status)
        assert answer["detail"].startswith(detail)
        assert not QueuedItem.objects.exists()

    def test_a_full_backlog_answers_429_and_is_checked_once(self, client, key, monkeypatch):
        from ingest import door

        answers = iter([False, True])
        monkeypatch.setattr(door._backlog, "full", lambda: next(answers))
        # The backlog was not full when looked at: the check-in is queued, whatever a later
        # look would say.
        accepted(client.get(cron_url(key) + "?status=ok"))
        assert QueuedItem.objects.count() == 1
        monkeypatch.setattr(door._backlog, "full", lambda: True)
        response = client.get(cron_url(key) + "?status=ok")
        assert assert_status(response, 429)["detail"].startswith("Faultline is digesting")
        assert QueuedItem.objects.count() == 1

    def test_too_many_query_parameters_is_a_json_400(self, client, key):
        query = "&".join(f"p{n}=1" for n in range(1001))
        response = client.get(cron_url(key) + "?status=ok&" + query)
        assert "detail" in assert_status(response, 400)
        assert response["Access-Control-Allow-Origin"] == "*"

    def test_keys_and_projects(self, client, key, organization):
        from projects import services as project_services

        other = project_services.create_project(organization=organization, name="other")
        cases = [
            (f"/api/{key.project_id}/cron/s/", 401),
            (f"/api/{key.project_id}/cron/s/{'f' * 32}/", 403),
            (f"/api/{key.project_id}/cron/s/{other.keys.get().public_key}/", 403),
            (f"/api/{key.project_id}/cron/s/not-a-key/", 400),
            (f"/api/x/cron/s/{key.public_key}/", 400),
        ]
        for path, status in cases:
            assert_status(client.get(path + "?status=ok"), status)
        assert_status(client.put(cron_url(key) + "?status=ok"), 405)
        assert client.put(cron_url(key) + "?status=ok")["Allow"] == "POST, GET, HEAD"
        assert not QueuedItem.objects.exists()


def test_curl_runs_a_monitor(faultline_server, key):
    """The documented way: curl, in_progress before the job and ok after it."""
    Monitor.objects.create(project=key.project, slug="nightly", name="nightly", config=CONFIG)
    url = f"{faultline_server.url}{cron_url(key, 'nightly')}"
    for status in ("in_progress", "ok"):
        result = subprocess.run(  # noqa: S603
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", f"{url}?status={status}"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert result.stdout == "202"
        drain()
    run = MonitorCheckIn.objects.get()
    assert run.status == "ok"
    assert Monitor.objects.get().status == "ok"


def test_sentry_cli_monitors_run(sentry_cli, key):
    """`sentry-cli monitors run` sends its check-ins with the DSN (envelopes)."""
    run = sentry_cli(key.project)
    run("monitors", "run", "-s", "*/10 * * * *", "backup-job", "--", "true")
    drain()
    monitor = Monitor.objects.get(slug="backup-job")
    assert monitor.config["schedule"] == "*/10 * * * *"
    checkin = MonitorCheckIn.objects.get()
    assert (checkin.status, monitor.status) == ("ok", "ok")
