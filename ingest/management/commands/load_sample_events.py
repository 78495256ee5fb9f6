"""Send the sample events in fixtures/events through the ingest path of a project."""

from __future__ import annotations

import gzip
import json
import urllib.request
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ingest.digest import drain
from ingest.envelope import check_limits, parse_envelope
from ingest.exceptions import IngestError
from ingest.samples import sample_envelopes
from ingest.services import accept_envelope
from projects.models import Project, ProjectKey


class Command(BaseCommand):
    help = (
        "Ingest the sample events (Python, JavaScript, Node, Java, Go, Ruby, PHP, .NET, native, "
        "a message, a transaction) into a project, as SDK traffic would arrive."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--project", help="project slug, or ORG/PROJECT (default: the only one)"
        )
        parser.add_argument(
            "--url",
            help="post over HTTP to this Faultline (e.g. http://127.0.0.1:8000) instead of "
            "ingesting in this process",
        )
        parser.add_argument(
            "--no-digest",
            action="store_true",
            help="leave the events queued for the digest worker instead of digesting them now",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key = self._key(options["project"])
        for name, body in sample_envelopes():
            if options["url"]:
                answer = self._post(options["url"], key, body)
            else:
                answer = self._ingest(key, body)
            self.stdout.write(f"{name}: {answer}")
        if not options["url"] and not options["no_digest"]:
            self.stdout.write(f"Digested {drain()} queued item(s).")

    def _key(self, wanted: str | None) -> ProjectKey:
        projects = Project.objects.select_related("organization")
        if wanted:
            org_slug, _, slug = wanted.rpartition("/")
            projects = projects.filter(slug=slug)
            if org_slug:
                projects = projects.filter(organization__slug=org_slug)
        found = list(projects[:2])
        if len(found) != 1:
            names = ", ".join(str(p) for p in Project.objects.select_related("organization"))
            raise CommandError(f"name one project with --project (projects: {names or 'none'})")
        key = ProjectKey.objects.active().filter(project=found[0]).order_by("-is_default").first()
        if key is None:
            raise CommandError(f"project {found[0]} has no active client key")
        return key

    def _ingest(self, key: ProjectKey, body: bytes) -> str:
        try:
            envelope = parse_envelope(body)
            check_limits(envelope)
            accepted = accept_envelope(
                key=key, envelope=envelope, meta={"client": "faultline-samples/1.0"}
            )
        except IngestError as exc:
            return f"refused ({exc.status}: {exc.detail})"
        return f"accepted, event id {accepted.event_id}"

    def _post(self, base_url: str, key: ProjectKey, body: bytes) -> str:
        request = urllib.request.Request(  # noqa: S310 (an operator-given http(s) URL)
            f"{base_url.rstrip('/')}/api/{key.project_id}/envelope/",
            data=gzip.compress(body),
            headers={
                "Content-Type": "application/x-sentry-envelope",
                "Content-Encoding": "gzip",
                "X-Sentry-Auth": (
                    f"Sentry sentry_key={key.public_key}, sentry_version=7, "
                    "sentry_client=faultline-samples/1.0"
                ),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return f"{response.status} {json.loads(response.read())}"
        except urllib.error.HTTPError as exc:
            return f"{exc.code} {exc.read().decode(errors='replace')}"
