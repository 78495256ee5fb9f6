"""Query-parameter filters of the groups app's lists (bad values answer 400)."""

from __future__ import annotations

import re
from datetime import timedelta

import django_filters
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.utils import timezone

from groups.models import ApiCall

_PERIOD = re.compile(r"^(\d{1,6})([smhdw])$")
_PERIOD_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_STATUS = re.compile(r"^(?:[1-5]xx|[1-5]\d\d)$", re.IGNORECASE)


class ApiCallFilter(django_filters.FilterSet):
    """`start`/`end` (ISO 8601) or `statsPeriod` (`24h`, `14d`, …) on the request time;
    `verb`; `status` as a class (`2xx`, `4xx`, `5xx`) or a code; `route`; `user` (user id);
    `query` (part of the URI)."""

    start = django_filters.IsoDateTimeFilter(field_name="request_time", lookup_expr="gte")
    end = django_filters.IsoDateTimeFilter(field_name="request_time", lookup_expr="lt")
    statsPeriod = django_filters.CharFilter(  # Sentry spells it so
        method="filter_period",
        validators=[RegexValidator(_PERIOD, "Use a number and a unit (s, m, h, d, w): 24h.")],
    )
    verb = django_filters.CharFilter(method="filter_verb", max_length=16)
    status = django_filters.CharFilter(
        method="filter_status",
        validators=[RegexValidator(_STATUS, "Use a class (2xx, 4xx, 5xx) or a status code.")],
    )
    route = django_filters.CharFilter(field_name="route", max_length=512)
    user = django_filters.CharFilter(field_name="user_id", max_length=200)
    query = django_filters.CharFilter(field_name="uri", lookup_expr="icontains", max_length=200)

    class Meta:
        model = ApiCall
        fields: list[str] = []

    def filter_period(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        number, unit = _PERIOD.match(value).groups()
        since = timezone.now() - timedelta(**{_PERIOD_UNITS[unit]: int(number)})
        return queryset.filter(request_time__gte=since)

    def filter_verb(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(verb=value.upper())

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value[1:].lower() == "xx":
            low = int(value[0]) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset.filter(status=int(value))
