from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from organizations import services
from organizations.models import ApiKey, Organization, OrganizationMember
from organizations.roles import Role
from projects.models import Project, ProjectKey

pytestmark = pytest.mark.django_db

ARGS = ["--org", "Acme", "--team", "Backend", "--project", "Web Shop", "--platform", "python"]


def run_bootstrap(*extra):
    stdout, stderr = StringIO(), StringIO()
    call_command("bootstrap", *ARGS, *extra, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_json_output_is_exactly_one_object():
    stdout, _ = run_bootstrap("--json")
    result = json.loads(stdout)
    assert set(result) == {"organization", "team", "project", "project_id", "dsn", "api_key"}
    project = Project.objects.get()
    key = project.keys.get()
    assert result["organization"] == "acme"
    assert result["team"] == "backend"
    assert result["project"] == "web-shop"
    assert result["project_id"] == project.pk
    assert result["dsn"] == key.dsn
    assert project.platform == "python"
    assert services.authenticate_api_key(plain_key=result["api_key"]).organization.slug == "acme"


def test_bootstrap_is_idempotent_but_mints_a_new_api_key():
    first = json.loads(run_bootstrap("--json")[0])
    second = json.loads(run_bootstrap("--json")[0])
    assert {key: first[key] for key in first if key != "api_key"} == {
        key: second[key] for key in second if key != "api_key"
    }
    assert first["api_key"] != second["api_key"]
    assert Organization.objects.count() == Project.objects.count() == ProjectKey.objects.count()
    assert ApiKey.objects.count() == 2


def test_text_output_names_everything():
    stdout, _ = run_bootstrap()
    key = ProjectKey.objects.get()
    assert f"DSN:          {key.dsn}" in stdout
    assert "API key:" in stdout
    assert "Project id:" in stdout


def test_user_becomes_owner_superuser():
    run_bootstrap("--user", "ops", "--password", "s3cret-enough-pass", "--json")
    user = get_user_model().objects.get(username="ops")
    assert user.is_superuser
    assert user.check_password("s3cret-enough-pass")
    assert OrganizationMember.objects.get(user=user).role == Role.OWNER


def test_generated_password_goes_to_stderr():
    stdout, stderr = run_bootstrap("--user", "ops", "--json")
    json.loads(stdout)
    password = stderr.rsplit(": ", 1)[1].strip()
    assert get_user_model().objects.get(username="ops").check_password(password)


def test_existing_user_keeps_password():
    run_bootstrap("--user", "ops", "--password", "first-password-1")
    run_bootstrap("--user", "ops", "--password", "second-password-2")
    assert get_user_model().objects.get(username="ops").check_password("first-password-1")


def test_bad_slug_is_a_command_error():
    with pytest.raises(CommandError):
        call_command(
            "bootstrap",
            "--org",
            "!!!",
            "--team",
            "t",
            "--project",
            "p",
            "--json",
            stdout=StringIO(),
        )
    assert not Organization.objects.exists()


def test_numeric_names_get_valid_slugs():
    stdout = StringIO()
    call_command(
        "bootstrap", "--org", "2024", "--team", "t", "--project", "p", "--json", stdout=stdout
    )
    assert json.loads(stdout.getvalue())["organization"] == "2024-1"
