from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from ingest.models import OutcomeCounter, QueuedItem
from projects import services as project_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def parked(organization):
    project = project_services.create_project(organization=organization, name="web")
    return QueuedItem.objects.create(
        project=project,
        type="event",
        event_id=uuid.uuid4(),
        received=timezone.now(),
        payload=QueuedItem.pack(b'{"message": "stuck"}'),
        failures=QueuedItem.MAX_FAILURES,
        last_error="value too long",
    )


def test_parked_items_are_listed_and_shown(admin_client, parked):
    changelist = admin_client.get(
        reverse("admin:ingest_queueditem_changelist"), {"state": "parked"}
    )
    assert changelist.status_code == 200, changelist.content[:500]
    assert str(parked.event_id).encode() in changelist.content
    page = admin_client.get(reverse("admin:ingest_queueditem_change", args=[parked.pk]))
    assert page.status_code == 200, page.content[:500]
    assert b"stuck" in page.content
    assert b"value too long" in page.content


def test_retry_action_hands_items_back_to_the_digest(admin_client, parked):
    admin_client.post(
        reverse("admin:ingest_queueditem_changelist"),
        {"action": "retry", "_selected_action": [parked.pk]},
    )
    parked.refresh_from_db()
    assert (parked.failures, parked.last_error) == (0, "")


def test_outcome_counters_render(admin_client, parked):
    OutcomeCounter.objects.create(
        project=parked.project,
        hour=timezone.now().replace(minute=0, second=0, microsecond=0),
        category="error",
        outcome="accepted",
        quantity=3,
    )
    response = admin_client.get(reverse("admin:ingest_outcomecounter_changelist"))
    assert response.status_code == 200, response.content[:500]
    assert b"accepted" in response.content
