"""`copydesk listen --sqs QUEUE_URL`: long-poll an SQS queue fed by S3 event notifications.

A message is deleted only after every event in it was handed to the dispatcher; if enqueueing
fails (broker down), the message becomes visible again and is retried by SQS. A message that is
not an S3 notification can never succeed: it is logged and deleted (configure a redrive policy
on the queue to keep such messages instead).
"""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..dispatch import Dispatcher
from ..logging import get_logger
from .s3_notification import NotificationError, parse_notification

log = get_logger("copydesk.listen.sqs")

WAIT_SECONDS = 20
BATCH = 10


class SqsListener:
    def __init__(self, queue_url: str, dispatcher: Dispatcher, *, client=None, wait_seconds: int = WAIT_SECONDS):
        self.queue_url = queue_url
        self.dispatcher = dispatcher
        self.wait_seconds = wait_seconds
        self.client = client or boto3.session.Session().client(
            "sqs", config=Config(read_timeout=wait_seconds + 10, retries={"max_attempts": 3, "mode": "standard"})
        )
        self.stopping = threading.Event()

    def poll_once(self) -> int:
        """One long poll; returns how many messages were received."""
        resp = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = resp.get("Messages", [])
        for message in messages:
            self.handle(message)
        return len(messages)

    def handle(self, message: dict) -> None:
        message_id = message.get("MessageId")
        try:
            events = parse_notification(message.get("Body", ""), origin="sqs")
        except NotificationError as exc:
            log.error("sqs_message_unparseable", message_id=message_id, error=str(exc))
            self._delete(message)
            return
        try:
            for event in events:
                self.dispatcher.submit(event)
        except Exception as exc:
            # Leave the message: it becomes visible again after the queue's visibility timeout.
            log.error("sqs_enqueue_failed", message_id=message_id, error=type(exc).__name__, message=str(exc)[:300])
            return
        self._delete(message)
        log.debug("sqs_message_done", message_id=message_id, events=len(events))

    def _delete(self, message: dict) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def serve(self, *, until_empty: bool = False) -> None:
        log.info("sqs_listening", queue_url=self.queue_url)
        while not self.stopping.is_set():
            try:
                received = self.poll_once()
            except (ClientError, BotoCoreError) as exc:
                log.error("sqs_poll_failed", error=type(exc).__name__, message=str(exc)[:300])
                self.stopping.wait(5)
                continue
            if until_empty and received == 0:
                break
        log.info("sqs_stopped")

    def stop(self) -> None:
        self.stopping.set()
