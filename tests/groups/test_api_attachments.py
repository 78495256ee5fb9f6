"""/api/0/ attachments of events and issues, and user feedback of projects and issues."""

from __future__ import annotations

import uuid

import pytest

from groups.models import UserReport
from tests.api_helpers import walk
from tests.groups.factories import AttachmentFactory, EventFactory, UserReportFactory
from tests.organizations.factories import OrganizationFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(organization):
    return EventFactory(group__project=ProjectFactory(organization=organization))


def _base(event) -> str:
    return f"/api/0/projects/{event.project.organization.slug}/{event.project.slug}"


def test_event_attachments_list_and_detail(api_client, event, django_assert_num_queries):
    first = AttachmentFactory(project=event.project, event_id=event.event_id)
    AttachmentFactory(project=event.project, event_id=event.event_id)
    AttachmentFactory(project=event.project)  # another event's
    path = f"{_base(event)}/events/{event.event_id.hex}/attachments/"
    with django_assert_num_queries(4):  # key, organization, project, attachments
        listed = api_client.get(path).json()
    assert len(listed) == 2
    assert set(listed[0]) == {
        "id",
        "event_id",
        "type",
        "name",
        "mimetype",
        "dateCreated",
        "size",
        "headers",
        "sha1",
    }
    detail = api_client.get(f"{path}{first.pk}/").json()
    assert (detail["name"], detail["size"], detail["type"]) == (first.name, 5, "event.attachment")
    download = api_client.get(f"{path}{first.pk}/", {"download": "1"})
    assert b"".join(download.streaming_content) == b"hello"
    assert download["Content-Type"] == "text/plain"


@pytest.mark.parametrize("suffix", ["nope/", "999999/", "12a/"])
def test_unknown_attachment_is_404(api_client, event, suffix):
    path = f"{_base(event)}/events/{event.event_id.hex}/attachments/{suffix}"
    response = api_client.get(path)
    assert response.status_code == 404
    assert "detail" in response.json()


def test_attachments_need_credentials_scope_and_the_organization(
    client, api_client_for, event, organization
):
    path = f"{_base(event)}/events/{event.event_id.hex}/attachments/"
    assert client.get(path).status_code == 401
    assert api_client_for(organization, ["org:read"]).get(path).status_code == 403
    other = api_client_for(OrganizationFactory(), ["event:read", "project:read"])
    assert other.get(path).status_code in (403, 404)


def test_issue_attachments_are_paginated(api_client, event):
    for _ in range(5):
        AttachmentFactory(project=event.project, event_id=event.event_id)
    pages = walk(api_client, f"/api/0/issues/{event.group_id}/attachments/", per_page=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    ids = [item["id"] for page in pages for item in page]
    assert len(set(ids)) == 5


def test_user_feedback_list_links_the_issue_once_the_event_exists(api_client, event):
    linked = UserReportFactory(project=event.project, event_id=event.event_id)
    early = UserReportFactory(project=event.project)  # its event has not arrived
    listed = api_client.get(f"{_base(event)}/user-feedback/").json()
    by_id = {item["id"]: item for item in listed}
    assert by_id[str(linked.pk)]["issue"]["id"] == str(event.group_id)
    assert by_id[str(early.pk)]["issue"] is None
    assert by_id[str(linked.pk)]["eventID"] == event.event_id.hex


def test_user_feedback_can_be_posted_and_replaced(api_client, event):
    path = f"{_base(event)}/user-feedback/"
    body = {"event_id": str(event.event_id), "name": "Ada", "comments": "first"}
    assert api_client.post(path, body, format="json").status_code == 200
    answer = api_client.post(path, {**body, "comments": "second"}, format="json").json()
    assert answer["comments"] == "second"
    assert answer["issue"]["id"] == str(event.group_id)
    assert UserReport.objects.get().comments == "second"


@pytest.mark.parametrize(
    "body",
    [
        {"comments": "no event"},
        {"event_id": "not-an-id", "comments": "x"},
        {"event_id": uuid.uuid4().hex},
        {"event_id": uuid.uuid4().hex, "comments": "x", "email": "not an address"},
    ],
)
def test_bad_user_feedback_is_400(api_client, event, body):
    response = api_client.post(f"{_base(event)}/user-feedback/", body, format="json")
    assert response.status_code == 400
    assert not UserReport.objects.exists()


def test_issue_user_reports_and_the_event_detail_report(api_client, event):
    UserReportFactory(project=event.project, event_id=event.event_id, comments="slow")
    reports = api_client.get(f"/api/0/issues/{event.group_id}/user-reports/").json()
    assert [report["comments"] for report in reports] == ["slow"]
    detail = api_client.get(f"{_base(event)}/events/{event.event_id.hex}/").json()
    assert detail["userReport"]["comments"] == "slow"
