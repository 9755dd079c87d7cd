"""Event sources. Each turns what it hears into ObjectEvents for the dispatcher:

- `s3_notification`: the S3 / MinIO event-notification JSON (shared by the two listeners);
- `sqs`: long-polls an SQS queue that receives S3 notifications;
- `http`: accepts POSTed notifications (MinIO's webhook target);
- `sweep`: lists the input prefix and reconciles (notifications are at-least-once, and can
  be late or missed);
- `folder`: watches a local folder (the embedded `copydesk run DIR`).
"""

from .model import ObjectEvent

__all__ = ["ObjectEvent"]
