"""The notification parser never lets anything but NotificationError escape, whatever the input
(issue 11: one malformed SQS message used to kill the listener after every restart)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.events.model import ObjectEvent
from worker.events.s3_notification import MAX_DEPTH, NotificationError, parse_notification

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
field_values = json_values | st.sampled_from(["abc", "1e999", "NaN", "-1", "", "%ZZ", "%ff%fe", "incoming/a.txt"])


def record_with(**overrides) -> dict:
    obj = {"key": "incoming/a.txt", "size": 12, "eTag": "abc", "versionId": "v1"}
    bucket = {"name": "news"}
    for name, value in overrides.items():
        if name == "bucket":
            bucket["name"] = value
        elif name == "bucket_doc":
            bucket = value
        else:
            obj[name] = value
    return {"eventName": "ObjectCreated:Put", "s3": {"bucket": bucket, "object": obj}}


def parses_or_refuses(body) -> None:
    try:
        events = parse_notification(body)
    except NotificationError as exc:
        assert str(exc)
        return
    for event in events:
        assert isinstance(event, ObjectEvent)
        assert isinstance(event.bucket, str) and event.bucket
        assert isinstance(event.key, str) and event.key
        assert event.size is None or (isinstance(event.size, int) and event.size >= 0)
        assert event.etag is None or isinstance(event.etag, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["bucket", "bucket_doc", "key", "size", "eTag", "versionId"]), field_values)
def test_any_field_value_parses_or_is_a_notification_error(field, value):
    parses_or_refuses({"Records": [record_with(**{field: value})]})
    parses_or_refuses(json.dumps({"Records": [record_with(**{field: value})]}))


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_document_parses_or_is_a_notification_error(doc):
    parses_or_refuses(doc)
    parses_or_refuses({"Records": doc})
    parses_or_refuses({"Records": [doc]})
    parses_or_refuses({"Records": [{"eventName": "ObjectCreated:Put", "s3": doc}]})
    parses_or_refuses({"Type": "Notification", "Message": doc})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_parse_or_are_a_notification_error(body):
    parses_or_refuses(body)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"Records": [record_with(bucket=["news"])]}),
        json.dumps({"Records": [record_with(size="abc")]}),
        '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "incoming/a", "size": NaN}}}]}',
        '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "incoming/a", "size": 1e999}}}]}',
        '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "incoming/a", "size": Infinity}}}]}',
        "[" * 100_000 + "]" * 100_000,
        '{"Records": ' + "[" * 5000 + "]" * 5000 + "}",
        json.dumps({"Records": [record_with(key=12)]}),
        json.dumps({"Records": [record_with(key="incoming/%ff")]}),
        json.dumps({"Records": [record_with(size=True)]}),
        json.dumps({"Records": [record_with(size=-5)]}),
        json.dumps({"Records": [record_with(bucket_doc="news")]}),
        json.dumps({"Records": [record_with(eTag={"a": 1})]}),
        json.dumps({"Records": [{"eventName": 5, "s3": {}}]}),
        json.dumps({"Type": "Notification", "Message": 17}),
        b"\xff\xfe not utf-8",
        b"x" * (2 << 20),
    ],
)
def test_known_killers_are_notification_errors(body):
    with pytest.raises(NotificationError):
        parse_notification(body)


def test_deep_nesting_is_refused_before_parsing():
    deep: object = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(NotificationError, match="nested"):
        parse_notification({"Records": deep})


def test_a_record_cap_is_enforced_when_asked():
    body = {"Records": [record_with() for _ in range(5)]}
    assert len(parse_notification(body, max_records=5)) == 5
    with pytest.raises(NotificationError, match="at most 4"):
        parse_notification(body, max_records=4)


def test_size_as_a_digit_string_and_a_whole_float_are_accepted():
    assert parse_notification({"Records": [record_with(size="42")]})[0].size == 42
    assert parse_notification({"Records": [record_with(size=42.0)]})[0].size == 42
