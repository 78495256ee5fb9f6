"""Helpers for /api/0/ tests: parsing Sentry's Link header and walking every page."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

_ENTRY = re.compile(r'<([^>]*)>; rel="(\w+)"; results="(true|false)"; cursor="([^"]*)"')


def parse_link(header: str) -> dict[str, dict]:
    """{"previous": {...}, "next": {...}} from a Link header, checking its exact shape."""
    entries = _ENTRY.findall(header)
    assert len(entries) == 2, header
    assert (
        ", ".join(
            f'<{url}>; rel="{rel}"; results="{results}"; cursor="{cursor}"'
            for url, rel, results, cursor in entries
        )
        == header
    ), header
    links = {}
    for url, rel, results, cursor in entries:
        assert parse_qs(urlsplit(url).query, keep_blank_values=True)["cursor"] == [cursor]
        links[rel] = {"url": url, "results": results == "true", "cursor": cursor}
    assert list(links) == ["previous", "next"], header
    return links


def walk(client, path: str, **params) -> list[list[dict]]:
    """Every page of a list, following rel="next" while results="true" as sentry-cli does."""
    pages = []
    cursor = ""
    while True:
        response = client.get(path, {**params, "cursor": cursor})
        assert response.status_code == 200, response.content
        pages.append(response.json())
        links = parse_link(response["Link"])
        if not links["next"]["results"]:
            return pages
        cursor = links["next"]["cursor"]
