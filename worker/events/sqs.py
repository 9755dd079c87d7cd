"""`copydesk listen --sqs QUEUE_URL`: long-poll an SQS queue fed by S3 event notifications.

A message is deleted only after every event in it was handed to the dispatcher; if enqueueing
fails (broker down), the message becomes visible again and is retried by SQS.

A message that is not an S3 notification can never succeed: it is logged
(`sqs_message_unparseable`, with the reason and the message id, never the body) and deleted.
To keep such messages for inspection instead, give the queue a redrive policy and set
`COPYDESK_SQS_KEEP_UNPARSEABLE=1`: the listener then leaves them, and SQS moves a message to
the dead-letter queue once its receive count passes the policy's maxReceiveCount.

Nothing a message holds stops the listener: every failure is logged and the loop goes on.
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
#: Seconds between polls after a failed one (the queue or the credentials are wrong, or SQS is down).
POLL_FAILURE_PAUSE = 5


class SqsListener:
    def __init__(
        self,
        queue_url: str,
        dispatcher: Dispatcher,
        *,
        client=None,
        wait_seconds: int = WAIT_SECONDS,
        keep_unparseable: bool = False,
    ):
        self.queue_url = queue_url
        self.dispatcher = dispatcher
        self.wait_seconds = wait_seconds
        self.keep_unparseable = keep_unparseable
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
        # The poll's events go several articles to a task message (COPYDESK_DISPATCH_BATCH); a
        # message is deleted only once everything it announced was sent.
        done: list[dict] = []
        try:
            with self.dispatcher.batching():
                for message in messages:
                    try:
                        if self.handle(message, delete=False):
                            done.append(message)
                    except Exception as exc:  # never let one message stop the listener
                        log.error("sqs_message_failed", message_id=_message_id(message), error=type(exc).__name__, message=str(exc)[:300])
        except Exception as exc:
            # A batch of the poll could not be sent (the dispatcher raises that when the block
            # ends, whichever message's event filled it): none of the poll's messages is deleted.
            # They come back after the queue's visibility timeout (events sent meanwhile find
            # their claims).
            log.error("sqs_enqueue_failed", messages=len(done), error=type(exc).__name__, message=str(exc)[:300])
            return len(messages)
        for message in done:
            try:
                self._delete(message)
                log.debug("sqs_message_done", message_id=_message_id(message))
            except Exception as exc:
                log.error("sqs_message_failed", message_id=_message_id(message), error=type(exc).__name__, message=str(exc)[:300])
        return len(messages)

    def handle(self, message: dict, *, delete: bool = True) -> bool:
        """Hand one message's events to the dispatcher. True when they all were (the message
        may go: deleted here unless `delete` is False); an unparseable message is deleted (or
        left for the redrive policy) here, and False returned."""
        message_id = _message_id(message)
        try:
            events = parse_notification(message.get("Body", ""), origin="sqs")
        except NotificationError as exc:
            receives = (message.get("Attributes") or {}).get("ApproximateReceiveCount")
            if self.keep_unparseable:
                log.error("sqs_message_unparseable", message_id=message_id, error=str(exc), action="left_for_redrive", receives=receives)
                return False
            log.error("sqs_message_unparseable", message_id=message_id, error=str(exc), action="deleted", receives=receives)
            self._delete(message)
            return False
        try:
            for event in events:
                self.dispatcher.submit(event)
        except Exception as exc:
            # Leave the message: it becomes visible again after the queue's visibility timeout.
            log.error("sqs_enqueue_failed", message_id=message_id, error=type(exc).__name__, message=str(exc)[:300])
            return False
        if delete:
            self._delete(message)
            log.debug("sqs_message_done", message_id=message_id, events=len(events))
        return True

    def _delete(self, message: dict) -> None:
        handle = message.get("ReceiptHandle")
        if not isinstance(handle, str):
            log.error("sqs_message_without_receipt_handle", message_id=_message_id(message))
            return
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)

    def serve(self, *, until_empty: bool = False) -> None:
        log.info("sqs_listening", queue_url=self.queue_url)
        while not self.stopping.is_set():
            try:
                received = self.poll_once()
            except (ClientError, BotoCoreError) as exc:
                log.error("sqs_poll_failed", error=type(exc).__name__, message=str(exc)[:300])
                self.stopping.wait(POLL_FAILURE_PAUSE)
                continue
            except Exception as exc:  # anything else: log, pause, go on
                log.error("sqs_poll_failed", error=type(exc).__name__, message=str(exc)[:300])
                self.stopping.wait(POLL_FAILURE_PAUSE)
                continue
            if until_empty and received == 0:
                break
        log.info("sqs_stopped")

    def stop(self) -> None:
        self.stopping.set()


def _message_id(message) -> str | None:
    value = message.get("MessageId") if isinstance(message, dict) else None
    return value if isinstance(value, str) else None
