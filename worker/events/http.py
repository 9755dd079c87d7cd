"""`copydesk listen --http HOST:PORT`: accept POSTed S3/MinIO notification JSON.

MinIO's webhook target POSTs each notification; it retries until it gets a 2xx, so we answer
2xx only after every event was handed to the dispatcher (503 when the broker is down, 400 for
a body that is not a notification, 401 without the configured bearer token).
`GET /healthz` answers 200 when the broker and the store answer, 503 otherwise.
"""

from __future__ import annotations

import hmac
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable

from .. import metrics
from ..dispatch import Dispatcher
from ..logging import get_logger
from .s3_notification import NotificationError, parse_notification

log = get_logger("copydesk.listen.http")

MAX_BODY = 1 << 20  # a notification is a few KB; refuse anything absurd


def make_server(
    host: str,
    port: int,
    dispatcher: Dispatcher,
    *,
    token: str = "",
    health: Callable[[], dict] | None = None,
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "copydesk"

        def log_message(self, fmt, *args):  # route access logs through structlog, quietly
            log.debug("http_request", line=fmt % args)

        def _reply(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            if self.path.rstrip("/") == "/metrics":
                payload, content_type = metrics.render()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return None
            if self.path.rstrip("/") not in ("/healthz", "/health"):
                return self._reply(404, {"error": "not found"})
            report = health() if health else {"ok": True}
            return self._reply(200 if report.get("ok") else 503, report)

        def do_HEAD(self):
            self.do_GET()

        def do_POST(self):
            if token:
                supplied = self.headers.get("Authorization", "")
                if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
                    log.warning("http_unauthorized", client=self.client_address[0])
                    return self._reply(401, {"error": "missing or wrong bearer token"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return self._reply(400, {"error": "bad Content-Length"})
            if length <= 0 or length > MAX_BODY:
                return self._reply(413 if length > MAX_BODY else 400, {"error": "body missing or too large"})
            body = self.rfile.read(length)
            try:
                events = parse_notification(body, origin="http")
            except NotificationError as exc:
                log.warning("http_notification_unparseable", error=str(exc))
                metrics.listener_event("http", "failed")
                return self._reply(400, {"error": str(exc)})
            results = []
            try:
                for event in events:
                    results.append(dispatcher.submit(event))
            except Exception as exc:
                log.error("http_enqueue_failed", error=type(exc).__name__, message=str(exc)[:300])
                return self._reply(503, {"error": "could not enqueue; retry later"})
            return self._reply(200, {"events": len(events), "results": results})

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
