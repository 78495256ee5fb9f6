"""Envelope framing and size budgets, as Relay parses and limits them (reference §3)."""

from __future__ import annotations

import json

import pytest

from ingest.envelope import check_limits, normalize_event_id, parse_envelope
from ingest.exceptions import BadRequest, InvalidEnvelope, PayloadTooLarge

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
DASHED_EVENT_ID = "9ec79c33-ec99-42ab-8353-589fcb2e04dc"


def framing_error(data: bytes) -> list[str]:
    """The `causes` of the InvalidEnvelope that parsing `data` raises."""
    with pytest.raises(InvalidEnvelope) as caught:
        parse_envelope(data)
    assert caught.value.status == 400
    assert caught.value.detail == "invalid event envelope"
    return caught.value.causes


def payloads(data: bytes) -> list[tuple[str, bytes]]:
    return [(item.type, item.payload) for item in parse_envelope(data).items]


@pytest.mark.parametrize("final_newline", [b"", b"\n"], ids=["no-final-newline", "final-newline"])
def test_item_with_length(final_newline):
    data = b'{"event_id":"%s"}\n{"type":"attachment","length":5}\nhello' % EVENT_ID.encode()
    envelope = parse_envelope(data + final_newline)
    assert envelope.event_id == EVENT_ID
    assert len(envelope.items) == 1
    item = envelope.items[0]
    assert (item.type, item.payload) == ("attachment", b"hello")
    assert item.headers == {"type": "attachment", "length": 5}


@pytest.mark.parametrize("final_newline", [b"", b"\n"], ids=["no-final-newline", "final-newline"])
def test_item_without_length_runs_to_the_newline(final_newline):
    data = b'{}\n{"type":"event"}\n{"message":"hi"}\n{"type":"session"}\n{"sid":"x"}'
    assert payloads(data + final_newline) == [
        ("event", b'{"message":"hi"}'),
        ("session", b'{"sid":"x"}'),
    ]


def test_payload_with_length_may_contain_newlines():
    payload = b"line 1\nline 2\r\nline 3"
    data = b'{}\n{"type":"attachment","length":%d}\n%s\n{"type":"event"}\n{}\n' % (
        len(payload),
        payload,
    )
    assert payloads(data) == [("attachment", payload), ("event", b"{}")]


def test_carriage_return_is_part_of_a_payload_without_length():
    assert payloads(b'{}\n{"type":"event"}\n{"a":1}\r\n') == [("event", b'{"a":1}\r')]


def test_zero_length_payload():
    data = b'{}\n{"type":"attachment","length":0}\n\n{"type":"event","length":2}\n{}'
    assert payloads(data) == [("attachment", b""), ("event", b"{}")]


@pytest.mark.parametrize(
    "data",
    [
        b'{}\n{"type":"event"}\n{}\n\n\n{"type":"session"}\n{}\n',
        b'{}\n{"type":"event","length":2}\n{}\n\n{"type":"session","length":2}\n{}',
        b'{}\n\n{"type":"event"}\n{}\n  \n{"type":"session"}\n{}',
    ],
    ids=["without-length", "with-length", "whitespace-lines"],
)
def test_blank_lines_between_items_are_tolerated(data):
    assert payloads(data) == [("event", b"{}"), ("session", b"{}")]


@pytest.mark.parametrize(
    "data",
    [
        b'{}\n{"type":"event"}\n{}\n\n',
        b'{}\n{"type":"event","length":2}\n{}\n\n',
        b'{}\n{"type":"event"}\n{}\n \n',
        b"{}\n\n",
    ],
    ids=["without-length", "with-length", "space", "header-only"],
)
def test_whitespace_after_the_last_item_is_unexpected_end_of_file(data):
    assert framing_error(data) == ["unexpected end of file"]


@pytest.mark.parametrize(
    "data",
    [
        b'{}\n{"type":"attachment","length":10}\nabc',
        b'{}\n{"type":"attachment","length":10}\nabc\n',
        b'{}\n{"type":"attachment","length":1}\n',
    ],
)
def test_premature_end_inside_a_declared_length(data):
    assert framing_error(data) == ["unexpected end of file"]


@pytest.mark.parametrize(
    "data",
    [
        b'{}\n{"type":"attachment","length":2}\nabc\n',
        b'{}\n{"type":"attachment","length":2}\nabc',
        b'{}\n{"type":"attachment","length":2}\nab\r\n',
    ],
)
def test_payload_longer_than_its_length_is_missing_newline(data):
    assert framing_error(data) == ["missing newline after header or payload"]


def test_empty_body_is_refused():
    with pytest.raises(BadRequest) as caught:
        parse_envelope(b"")
    assert not isinstance(caught.value, InvalidEnvelope), caught.value.causes
    assert (caught.value.status, caught.value.detail) == (400, "empty request body")


@pytest.mark.parametrize(
    ("data", "event_id"),
    [
        (b"{}", None),
        (b"{}\n", None),
        (b'{"event_id":"%s"}' % EVENT_ID.encode(), EVENT_ID),
        (b'{"event_id":"%s","sent_at":null}\n' % EVENT_ID.encode(), EVENT_ID),
    ],
)
def test_header_only_envelope_is_valid(data, event_id):
    envelope = parse_envelope(data)
    assert envelope.items == []
    assert envelope.event_id == event_id


def test_unknown_header_attributes_are_kept():
    envelope = parse_envelope(b'{"dsn":"https://k@h/1","trace":{"trace_id":"t"},"x":1}\n')
    assert envelope.headers == {"dsn": "https://k@h/1", "trace": {"trace_id": "t"}, "x": 1}


@pytest.mark.parametrize(
    "data",
    [b"not json\n", b'{"event_id":\n{"type":"event"}\n{}\n', b"[1, 2]\n", b'"text"'],
)
def test_invalid_envelope_header(data):
    assert framing_error(data) == ["invalid envelope header"]


@pytest.mark.parametrize(
    "data",
    [
        b'{}\n{"length":2}\n{}\n',
        b'{}\n{"type":""}\n{}\n',
        b'{}\n{"type":null}\n{}\n',
        b'{}\n{"type":"event"\n{}\n',
        b"{}\n[]\n{}\n",
    ],
    ids=["missing-type", "empty-type", "null-type", "broken-json", "not-an-object"],
)
def test_invalid_item_header(data):
    assert framing_error(data) == ["invalid item header"]


def test_unknown_item_types_are_kept():
    data = b'{}\n{"type":"something_new","foo":"bar"}\nxyz\n'
    item = parse_envelope(data).items[0]
    assert (item.type, item.headers, item.payload) == (
        "something_new",
        {"type": "something_new", "foo": "bar"},
        b"xyz",
    )


def test_500_items_are_accepted():
    data = b"{}\n" + b'{"type":"client_report"}\n{}\n' * 500
    assert len(parse_envelope(data).items) == 500


def test_more_than_500_items_are_refused():
    data = b"{}\n" + b'{"type":"client_report"}\n{}\n' * 501
    assert framing_error(data) == ["too many individual items"]


SEED_DOCUMENT = {
    "event_id": DASHED_EVENT_ID,
    "timestamp": "2023-10-04T14:48:00Z",
    "items": [
        {"type": "event", "payload": {"message": "hello", "level": "info"}},
        {"type": "attachment", "filename": "a.txt", "payload": "plain text"},
    ],
}


@pytest.mark.parametrize("indent", [None, 2], ids=["one-line", "pretty-printed"])
def test_json_object_form_from_the_seed(indent):
    envelope = parse_envelope(json.dumps(SEED_DOCUMENT, indent=indent).encode())
    assert envelope.headers == {"event_id": EVENT_ID, "timestamp": "2023-10-04T14:48:00Z"}
    event, attachment = envelope.items
    assert event.type == "event"
    assert json.loads(event.payload) == {"message": "hello", "level": "info"}
    assert attachment.type == "attachment"
    assert attachment.payload == b"plain text"
    assert attachment.headers == {"type": "attachment", "filename": "a.txt"}


def test_json_object_form_with_too_many_items():
    document = {"items": [{"type": "client_report", "payload": {}}] * 501}
    assert framing_error(json.dumps(document).encode()) == ["too many individual items"]


def test_json_object_form_item_without_type():
    document = {"items": [{"payload": {"message": "hello"}}]}
    assert framing_error(json.dumps(document).encode()) == ["invalid item header"]


@pytest.mark.parametrize(
    "value", [DASHED_EVENT_ID, DASHED_EVENT_ID.upper(), EVENT_ID, EVENT_ID.upper()]
)
def test_event_id_spellings_become_32_lowercase_hex(value):
    assert normalize_event_id(value) == EVENT_ID


def test_dashed_event_id_in_envelope_header_is_normalized():
    envelope = parse_envelope(b'{"event_id":"%s"}\n' % DASHED_EVENT_ID.upper().encode())
    assert envelope.event_id == EVENT_ID
    assert envelope.headers["event_id"] == EVENT_ID


@pytest.mark.parametrize(
    "value", ["", "not-a-uuid", EVENT_ID[:-1], EVENT_ID + "0", "g" * 32, 12345, None, ["x"]]
)
def test_invalid_event_id_is_refused(value):
    with pytest.raises(ValueError, match=r"."):
        normalize_event_id(value)


@pytest.mark.parametrize("value", ['"not-a-uuid"', "12345", f'"{EVENT_ID[:-1]}"'])
def test_invalid_event_id_in_envelope_header(value):
    causes = framing_error(b'{"event_id":%s}\n' % value.encode())
    assert len(causes) == 1, causes


def envelope_of(*items: tuple[str, bytes]):
    data = b"{}\n" + b"".join(
        b'{"type":"%s","length":%d}\n%s\n' % (kind.encode(), len(payload), payload)
        for kind, payload in items
    )
    return parse_envelope(data)


@pytest.mark.parametrize(
    "items",
    [
        [("event", b"{}")],
        [("transaction", b"{}")],
        [("event", b"{}"), ("attachment", b"x"), ("attachment", b"y"), ("session", b"{}")],
        [("client_report", b"{}")] * 100,
        [("unknown_type", b"x")] * 10,
    ],
    ids=["event", "transaction", "event-with-others", "100-client-reports", "unknown"],
)
def test_within_limits(items):
    check_limits(envelope_of(*items))


@pytest.mark.parametrize(
    ("items", "kind"),
    [
        ([("event", b"{}"), ("event", b"{}")], "event"),
        ([("event", b"{}"), ("transaction", b"{}")], "transaction"),
        ([("transaction", b"{}"), ("feedback", b"{}")], "feedback"),
        ([("check_in", b"{}"), ("check_in", b"{}")], "check_in"),
        ([("client_report", b"{}")] * 101, "client_report"),
    ],
    ids=["two-events", "event-and-transaction", "shared-budget", "two-check-ins", "reports"],
)
def test_too_many_items_of_one_budget(items, kind):
    with pytest.raises(PayloadTooLarge) as caught:
        check_limits(envelope_of(*items))
    assert caught.value.status == 413
    assert caught.value.detail.startswith(f"envelope exceeded size limits for type '{kind}'"), (
        caught.value.detail
    )


def test_event_at_the_size_limit_is_accepted(settings):
    settings.INGEST_MAX_EVENT_BYTES = 1024
    check_limits(envelope_of(("event", b"x" * 1024)))


@pytest.mark.parametrize("kind", ["event", "transaction", "feedback"])
def test_event_over_the_size_limit(settings, kind):
    settings.INGEST_MAX_EVENT_BYTES = 1024
    with pytest.raises(PayloadTooLarge) as caught:
        check_limits(envelope_of((kind, b"x" * 1025)))
    assert caught.value.status == 413
    assert caught.value.detail.startswith(f"envelope exceeded size limits for type '{kind}'"), (
        caught.value.detail
    )


def test_attachment_over_its_size_limit(settings):
    settings.INGEST_MAX_ATTACHMENT_BYTES = 1024
    with pytest.raises(PayloadTooLarge):
        check_limits(envelope_of(("attachment", b"x" * 1025)))


def test_attachments_over_their_shared_total(settings):
    settings.INGEST_MAX_ATTACHMENT_BYTES = 1024
    settings.INGEST_MAX_ATTACHMENTS_BYTES = 2048
    check_limits(envelope_of(("attachment", b"x" * 1024), ("attachment", b"y" * 1024)))
    with pytest.raises(PayloadTooLarge):
        check_limits(
            envelope_of(
                ("attachment", b"x" * 1024), ("attachment", b"y" * 1024), ("attachment", b"z")
            )
        )


def test_integration_item_from_a_client_is_refused():
    with pytest.raises(BadRequest) as caught:
        check_limits(envelope_of(("event", b"{}"), ("integration", b"{}")))
    assert not isinstance(caught.value, PayloadTooLarge)
    assert (caught.value.status, caught.value.detail) == (400, "envelope contains internal items")
