"""Sentry's issue search syntax: `is:unresolved level:error !browser:Chrome "free text"`.

The grammar mirrors Sentry's (src/sentry/api/event_search.py, https://docs.sentry.io/concepts/
search/): space-separated `key:value` filters, `!` negates, values in double quotes may hold
spaces, `key:[a, b]` matches any of a list, `*` is a wildcard in tag values; what is not a
filter is free text. Issue filters then become Q objects over Group and its GroupTagValue rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Exists, OuterRef, Q

from groups.models import GroupStatus, GroupSubstatus, GroupTagValue

_KEY = re.compile(r"tags\[([^\]\s]+)\]|[A-Za-z0-9_.\-]+")
_RELATIVE = re.compile(r"([+-])(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_OPERATORS = (">=", "<=", ">", "<", "=")
# A bare datetime matches a few minutes around it, a bare date the whole day (Sentry's
# visit_specific_time_filter).
_SPECIFIC_TIME_SLACK = timedelta(minutes=5)


class InvalidSearchQuery(ValueError):
    """The query does not parse, or names a value a key cannot take."""


@dataclass(frozen=True)
class SearchFilter:
    key: str
    values: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    filters: tuple[SearchFilter, ...]
    text: str


class _Scanner:
    def __init__(self, query: str) -> None:
        self.query = query
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.query)

    def peek(self) -> str:
        return self.query[self.pos] if not self.at_end() else ""

    def skip_spaces(self) -> None:
        while not self.at_end() and self.peek().isspace():
            self.pos += 1

    def quoted(self) -> str:
        """A double-quoted string starting at the cursor; backslash escapes a quote."""
        self.pos += 1
        chars = []
        while not self.at_end():
            char = self.peek()
            self.pos += 1
            if char == "\\" and self.peek() == '"':
                chars.append('"')
                self.pos += 1
            elif char == '"':
                return "".join(chars)
            else:
                chars.append(char)
        raise InvalidSearchQuery("Invalid query. Missing closing quote.")

    def bare(self, stop: str = "") -> str:
        start = self.pos
        while not self.at_end() and not self.peek().isspace() and self.peek() not in stop:
            self.pos += 1
        return self.query[start : self.pos]

    def value(self, key: str) -> tuple[str, ...]:
        if self.peek() == '"':
            return (self.quoted(),)
        if self.peek() == "[":
            return self.value_list(key)
        text = self.bare()
        if not text:
            raise InvalidSearchQuery(f"Invalid query. Empty string after '{key}:'")
        return (text,)

    def value_list(self, key: str) -> tuple[str, ...]:
        self.pos += 1
        values = []
        while True:
            self.skip_spaces()
            item = self.quoted() if self.peek() == '"' else self.bare(",]")
            if item:
                values.append(item)
            self.skip_spaces()
            if self.at_end():
                raise InvalidSearchQuery(f"Invalid query. Missing ']' after '{key}:['")
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() == "]":
                self.pos += 1
                break
            else:
                raise InvalidSearchQuery(f"Invalid query. Malformed list after '{key}:'")
        if not values:
            raise InvalidSearchQuery(f"Invalid query. Empty list after '{key}:'")
        return tuple(values)


def parse_query(query: str) -> ParsedQuery:
    """Filters and free text of a search query; raises InvalidSearchQuery."""
    scanner = _Scanner(query)
    filters: list[SearchFilter] = []
    words: list[str] = []
    while True:
        scanner.skip_spaces()
        if scanner.at_end():
            return ParsedQuery(tuple(filters), " ".join(words))
        if scanner.peek() == '"':
            words.append(scanner.quoted())
            continue
        start = scanner.pos
        negated = scanner.peek() == "!"
        match = _KEY.match(query, scanner.pos + negated)
        if match and query[match.end() : match.end() + 1] == ":":
            key = match.group(1) or match.group(0)
            scanner.pos = match.end() + 1
            filters.append(SearchFilter(key, scanner.value(key), negated))
        else:
            scanner.pos = start
            words.append(scanner.bare())


def _relative(value: str, now: datetime) -> datetime | None:
    match = _RELATIVE.fullmatch(value)
    if match is None:
        return None
    return now - timedelta(**{_UNITS[match.group(3)]: int(match.group(2))})


def _absolute(value: str, key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidSearchQuery(f"Invalid date value for '{key}': {value}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _split_operator(value: str) -> tuple[str, str]:
    for symbol in _OPERATORS:
        if value.startswith(symbol):
            return symbol, value[len(symbol) :]
    return "", value


_LOOKUPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "exact"}


def _date_q(field: str, search: SearchFilter, now: datetime) -> Q:
    try:
        return _moment_q(field, search, now)
    except OverflowError:
        raise InvalidSearchQuery(f"Invalid date value for '{search.key}'") from None


def _moment_q(field: str, search: SearchFilter, now: datetime) -> Q:
    operator, rest = _split_operator(_single(search))
    moment = _relative(rest, now)
    if moment is None:
        moment = _absolute(rest, search.key)
        if not operator:
            # A date alone is that whole day; a full datetime, a few minutes around it.
            is_day = len(rest) == len("2024-01-01")
            start = moment if is_day else moment - _SPECIFIC_TIME_SLACK
            end = moment + timedelta(days=1) if is_day else moment + _SPECIFIC_TIME_SLACK
            return Q(**{f"{field}__gte": start, f"{field}__lt": end})
    elif not operator:
        # `-24h`: within the last 24 hours; `+24h`: longer ago than that.
        operator = ">=" if rest.startswith("-") else "<="
    return Q(**{f"{field}__{_LOOKUPS[operator]}": moment})


def _number_q(field: str, search: SearchFilter, now: datetime) -> Q:
    value = _single(search)
    operator, rest = _split_operator(value)
    try:
        number = int(rest)
    except ValueError:
        number = None
    if number is None or abs(number) >= 2**63:  # beyond a database integer
        raise InvalidSearchQuery(f"Invalid number for '{search.key}': {value}")
    return Q(**{f"{field}__{_LOOKUPS[operator or '=']}": number})


def _single(search: SearchFilter) -> str:
    if len(search.values) != 1:
        raise InvalidSearchQuery(f"Invalid query. '{search.key}' takes a single value.")
    return search.values[0]


_STATUS_QS = {
    "unresolved": Q(status=GroupStatus.UNRESOLVED),
    "resolved": Q(status=GroupStatus.RESOLVED),
    "ignored": Q(status=GroupStatus.IGNORED),
    "archived": Q(status=GroupStatus.IGNORED),
    "muted": Q(status=GroupStatus.IGNORED),
    # Substatuses describe unresolved issues only; a resolved issue keeps its last one.
    "new": Q(status=GroupStatus.UNRESOLVED, substatus=GroupSubstatus.NEW),
    "ongoing": Q(status=GroupStatus.UNRESOLVED, substatus=GroupSubstatus.ONGOING),
    "regressed": Q(status=GroupStatus.UNRESOLVED, substatus=GroupSubstatus.REGRESSED),
    "escalating": Q(status=GroupStatus.UNRESOLVED, substatus=GroupSubstatus.ESCALATING),
    # Nothing is ever assigned here.
    "unassigned": Q(pk__isnull=False),
    "assigned": Q(pk__in=[]),
}


def _any(conditions: list[Q]) -> Q:
    return reduce(or_, conditions)


def _is_q(search: SearchFilter, now: datetime) -> Q:
    unknown = set(search.values) - set(_STATUS_QS)
    if unknown:
        valid = ", ".join(sorted(_STATUS_QS))
        raise InvalidSearchQuery(f'Invalid value for "is" search, valid values are {{{valid}}}')
    return _any([_STATUS_QS[value] for value in search.values])


def _value_q(value: str) -> Q:
    if "*" not in value:
        return Q(value=value)
    pattern = ".*".join(re.escape(part) for part in value.split("*"))
    return Q(value__regex=f"^{pattern}$")


def tag_q(key: str, values: tuple[str, ...]) -> Q:
    """Issues with an event carrying `key` set to any of `values`."""
    matches = _any([_value_q(value) for value in values])
    return Q(Exists(GroupTagValue.objects.filter(matches, group=OuterRef("pk"), key=key)))


def _has_q(search: SearchFilter, now: datetime) -> Q:
    return Q(Exists(GroupTagValue.objects.filter(group=OuterRef("pk"), key__in=search.values)))


_USER_FIELDS = {"user.id": "id", "user.email": "email", "user.username": "username"}


def _user_q(search: SearchFilter, now: datetime) -> Q:
    # The `user` tag holds the one identity the digest counts (id, else e-mail, user name,
    # IP): `user.email:` finds users known by their e-mail only, or tagged `user.email`.
    prefix = _USER_FIELDS.get(search.key, "ip")
    counted = tuple(f"{prefix}:{value}" for value in search.values)
    return tag_q("user", counted) | tag_q(search.key, search.values)


def _field_q(field: str) -> Callable[[SearchFilter, datetime], Q]:
    def build(search: SearchFilter, now: datetime) -> Q:
        return Q(**{f"{field}__in": search.values})

    return build


def _date(field: str) -> Callable[[SearchFilter, datetime], Q]:
    return lambda search, now: _date_q(field, search, now)


def _number(field: str) -> Callable[[SearchFilter, datetime], Q]:
    return lambda search, now: _number_q(field, search, now)


_KEYS: dict[str, Callable[[SearchFilter, datetime], Q]] = {
    "is": _is_q,
    "has": _has_q,
    "level": _field_q("level"),
    "project": _field_q("project__slug"),
    "firstRelease": _field_q("first_release"),
    "first_release": _field_q("first_release"),
    "firstSeen": _date("first_seen"),
    "first_seen": _date("first_seen"),
    "age": _date("first_seen"),
    "lastSeen": _date("last_seen"),
    "last_seen": _date("last_seen"),
    "times_seen": _number("times_seen"),
    "timesSeen": _number("times_seen"),
    "user.id": _user_q,
    "user.email": _user_q,
    "user.username": _user_q,
    "user.ip": _user_q,
    # Assignment and bookmarks do not exist here: such filters match nothing.
    "assigned": lambda search, now: Q(pk__in=[]),
    "assigned_or_suggested": lambda search, now: Q(pk__in=[]),
    "bookmarks": lambda search, now: Q(pk__in=[]),
}


def issue_filter(parsed: ParsedQuery, *, now: datetime) -> Q:
    """The Q selecting the issues `parsed` describes; every other key is a tag."""
    result = Q()
    for search in parsed.filters:
        build = _KEYS.get(search.key)
        condition = build(search, now) if build is not None else tag_q(search.key, search.values)
        result &= ~condition if search.negated else condition
    if parsed.text:
        result &= Q(title__icontains=parsed.text) | Q(culprit__icontains=parsed.text)
    return result
