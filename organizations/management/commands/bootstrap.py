"""Create (idempotently) an organization, team and project, and print its DSN and a new API key."""

from __future__ import annotations

import json
import secrets
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from organizations import services as org_services
from organizations.roles import SCOPES, Role
from organizations.validators import slug_from_name
from projects import services as project_services
from projects.models import Project


class Command(BaseCommand):
    help = (
        "Create whatever is missing of an organization, team and project (and an owner user), "
        "then print the project's DSN and a new organization API key."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug or name")
        parser.add_argument("--team", required=True, help="team slug or name")
        parser.add_argument("--project", required=True, help="project slug or name")
        parser.add_argument("--platform", default="", help="project platform, e.g. python")
        parser.add_argument("--user", help="user name of an owner (created as a superuser)")
        parser.add_argument(
            "--password", help="password for a newly created --user (generated if not given)"
        )
        parser.add_argument("--email", default="", help="e-mail address for a new --user")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        if (options["password"] or options["email"]) and not options["user"]:
            raise CommandError("--password and --email need --user")
        try:
            with transaction.atomic():
                result = self._bootstrap(options)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for label, key in [
            ("Organization", "organization"),
            ("Team", "team"),
            ("Project", "project"),
            ("Project id", "project_id"),
            ("DSN", "dsn"),
            ("API key", "api_key"),
        ]:
            self.stdout.write(f"{label + ':':<14}{result[key]}")
        self.stdout.write("The API key is shown only once; keep it somewhere safe.")

    def _bootstrap(self, options: dict[str, Any]) -> dict[str, Any]:
        organization, _ = org_services.ensure_organization(
            slug=slug_from_name(options["org"]), name=options["org"]
        )
        team, _ = org_services.ensure_team(
            organization=organization, slug=slug_from_name(options["team"]), name=options["team"]
        )
        project, _ = project_services.ensure_project(
            organization=organization,
            team=team,
            slug=slug_from_name(options["project"]),
            name=options["project"],
            platform=options["platform"],
        )
        if options["user"]:
            user = self._ensure_user(options)
            org_services.add_member(organization=organization, user=user, role=Role.OWNER)
        _, plain_key = org_services.create_api_key(
            organization=organization, label="bootstrap", scopes=SCOPES
        )
        return {
            "organization": organization.slug,
            "team": team.slug,
            "project": project.slug,
            "project_id": project.pk,
            "dsn": self._default_dsn(project),
            "api_key": plain_key,
        }

    def _ensure_user(self, options: dict[str, Any]) -> Any:
        user_model = get_user_model()
        user = user_model.objects.filter(username=options["user"]).first()
        if user is not None:
            return user
        password = options["password"]
        if not password:
            password = secrets.token_urlsafe(12)
            # On stderr, so that --json keeps exactly one object on stdout.
            self.stderr.write(f"Created user {options['user']!r} with password: {password}")
        return user_model.objects.create_superuser(
            username=options["user"], email=options["email"], password=password
        )

    def _default_dsn(self, project: Project) -> str:
        return project_services.create_default_key(project=project).dsn
