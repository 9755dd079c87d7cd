"""The S3 / MinIO notification parser, and the SQS and HTTP sources built on it."""

from __future__ import annotations

import json

import boto3
import pytest

from worker.dispatch import Dispatcher, MemoryClaims
from worker.events.model import CREATED, REMOVED, ObjectEvent
from worker.events.s3_notification import NotificationError, parse_notification
from worker.events.sqs import SqsListener
from worker.layout import Layout
from worker.storage.memory import MemoryStore


def s3_record(key: str, name: str = "ObjectCreated:Put", etag: str = "abc", bucket: str = "news") -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": name,
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 12, "eTag": etag, "versionId": "v1"}},
    }


def test_aws_notification_keys_are_url_decoded():
    events = parse_notification({"Records": [s3_record("incoming/North+Korea%C3%A9+talks%2B.txt")]})
    assert events == [ObjectEvent("news", "incoming/North Koreaé talks+.txt", "abc", 12, "v1", CREATED, "notification")]


def test_test_event_is_skipped_and_removed_is_kept():
    assert parse_notification(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "news"})) == []
    (event,) = parse_notification({"Records": [s3_record("incoming/a.txt", "ObjectRemoved:Delete")]})
    assert event.kind == REMOVED


def test_minio_webhook_shape_and_sns_envelope():
    minio = {"EventName": "s3:ObjectCreated:Put", "Key": "news/incoming/a.txt", "Records": [s3_record("incoming/a.txt", "s3:ObjectCreated:Put")]}
    assert parse_notification(minio)[0].key == "incoming/a.txt"
    sns = {"Type": "Notification", "Message": json.dumps({"Records": [s3_record("incoming/b.txt")]})}
    assert parse_notification(sns)[0].key == "incoming/b.txt"


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"foo": 1}), json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})])
def test_garbage_is_a_notification_error(body):
    with pytest.raises(NotificationError):
        parse_notification(body)


class RecordingQueue:
    def __init__(self, fail: bool = False):
        self.events: list[ObjectEvent] = []
        self.fail = fail

    def enqueue(self, event, *, force=False, prior=None):
        if self.fail:
            raise ConnectionError("broker down")
        self.events.append(event)


def dispatcher_for(queue, store=None) -> Dispatcher:
    layout = Layout("incoming/", "processed/", "logs/", "quarantine/", "index/")
    return Dispatcher(store or MemoryStore("news"), layout, queue, MemoryClaims(), "pv1", 60)


def test_sqs_listener_deletes_only_after_enqueue(moto_server):
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="events-test", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [s3_record("incoming/a.txt")]}))
    sqs.send_message(QueueUrl=url, MessageBody="this is not a notification")

    failing = SqsListener(url, dispatcher_for(RecordingQueue(fail=True)), client=sqs, wait_seconds=1)
    failing.poll_once()  # enqueue fails: the good message stays, the garbage one is dropped
    queue = RecordingQueue()
    listener = SqsListener(url, dispatcher_for(queue), client=sqs, wait_seconds=2)
    listener.serve(until_empty=True)
    assert [e.key for e in queue.events] == ["incoming/a.txt"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_sqs_listener_survives_malformed_messages(moto_server):
    """Issue 11.1: `"size": "abc"` (and friends) used to kill the listener; now they are logged
    and deleted, and the good message next to them is enqueued."""
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="events-malformed", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    bad_size = s3_record("incoming/x.txt")
    bad_size["s3"]["object"]["size"] = "abc"
    bad_bucket = s3_record("incoming/y.txt")
    bad_bucket["s3"]["bucket"]["name"] = ["news"]
    for body in (json.dumps({"Records": [bad_size]}), json.dumps({"Records": [bad_bucket]}),
                 "[" * 50_000 + "]" * 50_000, '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"size": NaN}}}]}',
                 json.dumps({"Records": [s3_record("incoming/good.txt")]})):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    queue = RecordingQueue()
    listener = SqsListener(url, dispatcher_for(queue), client=sqs, wait_seconds=1)
    listener.serve(until_empty=True)
    assert [e.key for e in queue.events] == ["incoming/good.txt"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_sqs_listener_can_leave_unparseable_messages_to_the_redrive_policy(moto_server):
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="events-keep", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="not a notification")
    listener = SqsListener(url, dispatcher_for(RecordingQueue()), client=sqs, wait_seconds=1, keep_unparseable=True)
    assert listener.poll_once() == 1
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"  # left, not deleted
