from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from groups.models import Event, Group, Span
from ingest.digest import drain
from ingest.models import OutcomeCounter, QueuedItem
from ingest.samples import SAMPLES_DIR
from projects import services as project_services

SAMPLE_COUNT = len(list(SAMPLES_DIR.glob("*.json")))
ERROR_SAMPLES = SAMPLE_COUNT - 1  # all but transaction.json become issues


@pytest.fixture
def project(organization):
    return project_services.create_project(organization=organization, name="shop")


def load(*args: str) -> str:
    out = StringIO()
    call_command("load_sample_events", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_samples_become_one_issue_each(project):
    output = load("--project", f"{project.organization.slug}/{project.slug}")
    assert output.count("accepted, event id") == SAMPLE_COUNT
    assert not QueuedItem.objects.exists()
    assert Group.objects.filter(project=project).count() == ERROR_SAMPLES
    platforms = set(Event.objects.values_list("platform", flat=True))
    assert {"python", "javascript", "node", "java", "go", "ruby", "php", "csharp"} <= platforms
    assert OutcomeCounter.objects.get(category="transaction").quantity == 1
    assert Span.objects.filter(project=project, is_segment=True).count() == 1
    assert all(Group.objects.values_list("title", flat=True))


@pytest.mark.django_db
def test_loading_again_adds_events_to_the_same_issues(project):
    load("--project", project.slug)
    load("--project", project.slug)
    assert Group.objects.count() == ERROR_SAMPLES
    assert set(Group.objects.values_list("times_seen", flat=True)) == {2}


@pytest.mark.django_db
def test_no_digest_leaves_events_queued(project):
    load("--no-digest")
    assert QueuedItem.objects.count() == SAMPLE_COUNT  # the transaction too (spans)
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_ambiguous_project_is_an_error(project, organization):
    project_services.create_project(organization=organization, name="other")
    with pytest.raises(CommandError, match="name one project"):
        load()


def test_over_http_to_a_running_server(faultline_server, organization):
    project = project_services.create_project(organization=organization, name="remote")
    output = load("--project", project.slug, "--url", faultline_server.url)
    assert output.count(": 200 {'id':") == SAMPLE_COUNT, output
    drain()
    assert Group.objects.filter(project=project).count() == ERROR_SAMPLES
