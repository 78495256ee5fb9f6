from __future__ import annotations

import pytest
from django.urls import reverse

from tests.groups.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_issue_and_event_pages_render(admin_client):
    event = EventFactory(data={"message": "visible payload"})
    group = event.group
    for url in [
        reverse("admin:groups_group_changelist"),
        reverse("admin:groups_group_change", args=[group.pk]),
        reverse("admin:groups_event_changelist"),
        reverse("admin:groups_event_change", args=[event.pk]),
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, (url, response.content[:500])
    detail = admin_client.get(reverse("admin:groups_event_change", args=[event.pk]))
    assert b"visible payload" in detail.content
    listing = admin_client.get(reverse("admin:groups_group_changelist"))
    assert group.qualified_short_id.encode() in listing.content
