"""OPTIONS answers for /api/0/: what the view is, renders and parses (DRF's SimpleMetadata)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata

if TYPE_CHECKING:
    # rest_framework.views imports this module while it defines APIView.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ApiMetadata(SimpleMetadata):
    """SimpleMetadata without `actions`: describing a PUT's or POST's fields calls the view's
    get_object() and get_serializer(), which views resolving their objects in `initial()` do
    not define (a 500), and runs object lookups for a request that asked for none."""

    def determine_actions(self, request: Request, view: APIView) -> dict[str, Any]:
        return {}
