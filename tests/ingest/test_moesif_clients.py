"""The real moesifapi 1.5.5 client (and its captured requests, replayed byte for byte)
against Faultline under gunicorn: events end up as stored API calls."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from moesifapi.configuration import Configuration
from moesifapi.exceptions.api_exception import APIException
from moesifapi.models import EventModel, EventRequestModel, EventResponseModel, UserModel
from moesifapi.moesif_api_client import MoesifAPIClient

from groups.models import ApiCall
from ingest.digest import drain
from ingest.moesif import CONFIG_ETAG
from projects import services as project_services

CORPUS = Path(settings.BASE_DIR) / "fixtures" / "corpus" / "moesifapi-python"
PLACEHOLDER_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.fixture
def key(faultline_server, organization):
    project = project_services.create_project(organization=organization, name="api")
    return project.keys.get()


@pytest.fixture(params=["", "/moesifapi"])
def moesif(request, faultline_server, key, monkeypatch):
    """The client's API controller, its base URI the server root or `<root>/moesifapi`."""
    monkeypatch.setattr(Configuration, "BASE_URI", faultline_server.url + request.param)
    monkeypatch.setattr(Configuration, "application_id", key.public_key)
    return MoesifAPIClient(key.public_key).api


def api_event(n: int, *, status: int = 200, user_id: str = "user-1") -> EventModel:
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=n)
    request = EventRequestModel(
        time=start.isoformat(),
        uri=f"https://api.acme.example/orders/{1000 + n}?page=2",
        verb="GET",
        headers={"Authorization": "Bearer s3cret", "traceparent": f"00-{n:032x}-{n:016x}-01"},
        api_version="2.1",
        ip_address="198.51.100.7",
        body=None,
    )
    response = EventResponseModel(
        time=(start + timedelta(milliseconds=35)).isoformat(),
        status=status,
        headers={"Content-Type": "application/json"},
        body={"order": 1000 + n},
    )
    return EventModel(
        request=request,
        response=response,
        user_id=user_id,
        company_id="acme",
        session_token="tok-123",
        metadata={"n": n},
        direction="Incoming",
    )


def test_single_and_batch_events(moesif, key):
    headers = moesif.create_event(api_event(1))
    assert headers["X-Moesif-Config-ETag"] == CONFIG_ETAG
    moesif.create_events_batch([api_event(2, status=503), api_event(3, status=404)])
    drain()
    calls = {call.status: call for call in ApiCall.objects.filter(project=key.project)}
    assert set(calls) == {200, 503, 404}
    call = calls[200]
    assert (call.verb, call.route, call.api_version) == ("GET", "/orders/{id}", "2.1")
    assert call.uri == "https://api.acme.example/orders/1001?page=2"
    assert call.duration_ms == pytest.approx(35.0)
    assert call.trace_id == f"{1:032x}"
    assert (call.user_id, call.company_id, call.direction) == ("user-1", "acme", "Incoming")
    assert call.transaction_id is not None  # the client makes one up
    assert call.data["request"]["headers"]["Authorization"] == "[Filtered]"
    assert call.data["response"]["body"] == {"order": 1001}
    assert call.session_token.startswith("sha256:")


def test_config_rules_and_user_updates(moesif):
    config = moesif.get_app_config()
    assert config.status_code == 200
    assert json.loads(config.raw_body)["sample_rate"] == 100
    assert config.headers["X-Moesif-Config-ETag"] == CONFIG_ETAG
    rules = moesif.get_governance_rules()
    assert json.loads(rules.raw_body) == []
    moesif.update_user(UserModel(user_id="user-1", metadata={"plan": "pro"}))
    moesif.update_users_batch([UserModel(user_id="user-2")])


def test_unknown_application_id_is_refused(moesif, monkeypatch):
    monkeypatch.setattr(Configuration, "application_id", uuid.uuid4().hex)
    with pytest.raises(APIException) as refused:
        moesif.create_event(api_event(1))
    assert refused.value.response_code == 401
    assert not ApiCall.objects.exists()


def _captured() -> list[tuple[str, dict]]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        for index, request in enumerate(json.loads(path.read_text())["requests"]):
            cases.append((f"{path.stem}#{index}", request))
    return cases


def replay(server_url: str, key, request: dict) -> tuple[int, bytes]:
    headers = {
        name: value.replace(PLACEHOLDER_KEY, key.public_key)
        for name, value in request["headers"]
        if name.lower() not in ("host", "content-length", "connection")
    }
    connection = http.client.HTTPConnection(urlsplit(server_url).netloc, timeout=30)
    try:
        connection.request(
            request["method"],
            request["path"],
            body=base64.b64decode(request["body_b64"]),
            headers=headers,
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("case", "request_data"), _captured(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_corpus_replay(faultline_server, key, case, request_data):
    status, body = replay(faultline_server.url, key, request_data)
    assert status == 201, body
    assert json.loads(body) == {}
    drain()
    sent = request_data["decoded"]["json"]
    sent = sent if isinstance(sent, list) else [sent]
    stored = {str(call.transaction_id): call for call in ApiCall.objects.all()}
    assert set(stored) == {event["transaction_id"] for event in sent}
    for event in sent:
        call = stored[event["transaction_id"]]
        assert call.status == event["response"]["status"]
        assert call.verb == event["request"]["verb"]
        assert call.user_id == (event.get("user_id") or "")
    # A retry of the same capture stores nothing more.
    assert replay(faultline_server.url, key, request_data)[0] == 201
    drain()
    assert ApiCall.objects.count() == len(sent)
