"""Query parameters of the API-call, transaction and log lists (django-filter; a bad value
is a 400)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, ClassVar

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from config.api.periods import in_range, parse_period, period_start
from groups.models import ApiCall, LogRecord, Span

_STATUS = re.compile(r"^(?:[1-5]xx|[1-5]\d\d)$", re.IGNORECASE)
LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")


class PeriodField(forms.CharField):
    """Sentry's `statsPeriod`: a number and a unit, `30m`, `24h`, `14d`, `2w`."""

    def clean(self, value: Any) -> timedelta | None:
        value = super().clean(value)
        if not value:
            return None
        try:
            return parse_period(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class PeriodFilter(django_filters.Filter):
    field_class = PeriodField


_TRACE_ID = re.compile(r"[0-9a-f]{32}")
INVALID_TRACE_ID = "Invalid trace id: 32 hex digits expected."


def normalized_trace_id(value: str) -> str | None:
    """A trace id as stored (32 lower-case hex digits; dashes allowed); None if it is not one."""
    text = value.replace("-", "").lower()
    return text if _TRACE_ID.fullmatch(text) else None


class HexIdField(forms.CharField):
    """A trace id: 32 hex digits (dashes allowed), lowercased."""

    def clean(self, value: Any) -> str | None:
        value = super().clean(value)
        if not value:
            return None
        trace_id = normalized_trace_id(value)
        if trace_id is None:
            raise forms.ValidationError(INVALID_TRACE_ID)
        return trace_id


class TraceIdFilter(django_filters.CharFilter):
    field_class = HexIdField


class TimeRangeFilterSet(django_filters.FilterSet):
    """`statsPeriod` (relative to `end`, or now) or `start`/`end` on `time_field`."""

    statsPeriod = PeriodFilter(method="applied_later", help_text="e.g. 24h, 14d")
    start = django_filters.IsoDateTimeFilter(method="applied_later")
    end = django_filters.IsoDateTimeFilter(method="applied_later")

    time_field: ClassVar[str] = "timestamp"
    default_period: ClassVar[timedelta | None] = None

    def applied_later(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset  # the time range is applied as a whole in filter_queryset

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        data = self.form.cleaned_data
        start, end = self._moment("start"), self._moment("end")
        period = data.get("statsPeriod") or (None if start else self.default_period)
        if period is not None and start is None:
            try:
                start = period_start(end or timezone.now(), period)
            except ValueError as exc:
                raise ValidationError({"statsPeriod": [str(exc)]}) from None
        if start is not None and end is not None and start >= end:
            raise ValidationError({"start": ["start must be before end."]})
        return start, end

    def _moment(self, name: str) -> datetime | None:
        """`start` or `end`, or a 400 when it lies where the query would fail."""
        value = self.form.cleaned_data.get(name)
        try:
            return None if value is None else in_range(value, name)
        except ValueError as exc:
            raise ValidationError({name: [str(exc)]}) from None

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        start, end = self.time_range()
        if start is not None:
            queryset = queryset.filter(**{f"{self.time_field}__gte": start})
        if end is not None:
            queryset = queryset.filter(**{f"{self.time_field}__lt": end})
        return queryset


class ReleaseFilterSet(TimeRangeFilterSet):
    """A time range, and the environment and release rows were sent from."""

    environment = django_filters.CharFilter(field_name="environment")
    release = django_filters.CharFilter(field_name="release")


class TransactionFilterSet(ReleaseFilterSet):
    """Transactions (segment spans): last 24 hours unless told otherwise."""

    query = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    transaction = django_filters.CharFilter(field_name="name")
    per = django_filters.ChoiceFilter(
        choices=[("hour", "hour")], method="applied_later", help_text="`hour`: a row per hour"
    )

    time_field = "start"
    default_period = timedelta(hours=24)

    class Meta:
        model = Span
        fields: ClassVar[list[str]] = []


class LogFilterSet(ReleaseFilterSet):
    """Log records, newest first; every retained record unless a time range is given."""

    level = django_filters.MultipleChoiceFilter(choices=[(name, name) for name in LOG_LEVELS])
    trace = TraceIdFilter(field_name="trace_id")
    query = django_filters.CharFilter(field_name="body", lookup_expr="icontains")

    class Meta:
        model = LogRecord
        fields: ClassVar[list[str]] = []


class ApiCallFilter(TimeRangeFilterSet):
    """A time range on the request time (every stored call unless one is given); `verb`;
    `status` as a class (`2xx`, `4xx`, `5xx`) or a code; `route`; `user` (user id); `query`
    (part of the URI)."""

    verb = django_filters.CharFilter(method="filter_verb", max_length=16)
    status = django_filters.CharFilter(
        method="filter_status",
        validators=[RegexValidator(_STATUS, "Use a class (2xx, 4xx, 5xx) or a status code.")],
    )
    route = django_filters.CharFilter(field_name="route", max_length=512)
    user = django_filters.CharFilter(field_name="user_id", max_length=200)
    query = django_filters.CharFilter(field_name="uri", lookup_expr="icontains", max_length=200)

    time_field = "request_time"

    class Meta:
        model = ApiCall
        fields: ClassVar[list[str]] = []

    def filter_verb(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(verb=value.upper())

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value[1:].lower() == "xx":
            low = int(value[0]) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset.filter(status=int(value))


class ApiCallRouteFilter(ApiCallFilter):
    """The API-call filters for route summaries: the last 24 hours unless a time range is
    given, as transaction summaries are (a summary of every call ever would scan them all)."""

    default_period = timedelta(hours=24)
