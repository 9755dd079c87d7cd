"""`copydesk listen --http HOST:PORT`: accept POSTed S3/MinIO notification JSON.

A Starlette app served by uvicorn (asyncio: a slow or idle client costs a socket, not a
thread). MinIO's webhook target POSTs each notification and retries until it gets a 2xx, so
the answer is 2xx only after every event was handed to the dispatcher:

- 401 without the bearer token (`Authorization: Bearer TOKEN`, the scheme in any case). A
  token is required: the listener refuses to start without COPYDESK_HTTP_TOKEN unless
  COPYDESK_HTTP_ALLOW_ANONYMOUS is set.
- 400 for a body that is not a notification (whatever it holds: the parser turns every
  malformed input into one error), 413 for a body over 1 MiB or more than
  COPYDESK_HTTP_MAX_RECORDS records, 408 for a client that does not send its body within
  COPYDESK_HTTP_TIMEOUT seconds.
- 403 when a record names another bucket than the configured store's: nothing of that
  notification is enqueued (copydesk reads and writes only its own bucket).
- 503 when the broker or the store does not answer (MinIO will retry).
`GET /healthz` answers 200 when the broker and the store answer, 503 otherwise.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import metrics
from ..dispatch import Dispatcher
from ..logging import get_logger
from .s3_notification import MAX_BODY_BYTES, NotificationError, parse_notification

log = get_logger("copydesk.listen.http")

MAX_BODY = MAX_BODY_BYTES
#: Connections the listening socket queues before accept (uvicorn's default is 2048 too).
BACKLOG = 2048


class _BodyTooLarge(Exception):
    pass


def authorized(header: str | None, token: str) -> bool:
    """`Bearer TOKEN` with the scheme in any case (RFC 7235: schemes are case-insensitive)."""
    if not header:
        return False
    scheme, _, supplied = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(supplied.strip().encode("utf-8", "replace"), token.encode("utf-8"))


def make_app(
    dispatcher: Dispatcher,
    *,
    token: str = "",
    allow_anonymous: bool = False,
    max_records: int = 100,
    timeout: float = 10.0,
    health: Callable[[], dict] | None = None,
) -> Starlette:
    if not token and not allow_anonymous:
        raise ValueError("the HTTP listener needs a token (COPYDESK_HTTP_TOKEN) or COPYDESK_HTTP_ALLOW_ANONYMOUS=1")
    bucket = dispatcher.store.bucket

    async def healthz(request: Request) -> JSONResponse:
        report = await run_in_threadpool(health) if health else {"ok": True}
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    async def metrics_page(request: Request) -> Response:
        payload, content_type = await run_in_threadpool(metrics.render)
        return Response(payload, media_type=content_type)

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise _BodyTooLarge()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise _BodyTooLarge()
            chunks.append(chunk)
        return b"".join(chunks)

    async def notify(request: Request) -> JSONResponse:
        client = request.client.host if request.client else None
        if token and not authorized(request.headers.get("authorization"), token):
            log.warning("http_unauthorized", client=client)
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            body = await asyncio.wait_for(read_body(request), timeout)
        except _BodyTooLarge:
            return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, status_code=413)
        except TimeoutError:
            log.warning("http_client_too_slow", client=client, timeout_s=timeout)
            return JSONResponse({"error": f"body not received within {timeout} s"}, status_code=408, headers={"Connection": "close"})
        except ClientDisconnect:
            return JSONResponse({"error": "client disconnected"}, status_code=400)
        try:
            events = parse_notification(body, origin="http", max_records=max_records)
        except NotificationError as exc:
            log.warning("http_notification_unparseable", client=client, error=str(exc))
            metrics.listener_event("http", "failed")
            status = 413 if "at most" in str(exc) and "records" in str(exc) else 400
            return JSONResponse({"error": str(exc)}, status_code=status)
        foreign = sorted({e.bucket for e in events if e.bucket != bucket})
        if foreign:
            log.warning("http_other_bucket_refused", client=client, buckets=foreign[:5])
            return JSONResponse(
                {"error": f"events for bucket(s) {foreign[:5]} refused: this listener serves bucket {bucket!r} only"},
                status_code=403,
            )

        def submit_all() -> list[str]:
            # Several articles to a task message (COPYDESK_DISPATCH_BATCH), shared with the
            # requests handled meanwhile: the answer waits until this one's events are sent, at
            # most COPYDESK_DISPATCH_BATCH_SECONDS for others to join.
            with dispatcher.batching(linger=True):
                return [dispatcher.submit(event) for event in events]

        try:
            results = await run_in_threadpool(submit_all)
        except Exception as exc:
            log.error("http_enqueue_failed", error=type(exc).__name__, message=str(exc)[:300])
            return JSONResponse({"error": "could not enqueue; retry later"}, status_code=503)
        return JSONResponse({"events": len(events), "results": results})

    async def not_found(request: Request) -> JSONResponse:
        return JSONResponse({"error": "not found"}, status_code=404)

    return Starlette(
        routes=[
            Route("/metrics", metrics_page, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/health", healthz, methods=["GET", "HEAD"]),
            Route("/", notify, methods=["POST"]),
            Route("/{path:path}", notify, methods=["POST"]),
            Route("/{path:path}", not_found, methods=["GET", "HEAD"]),
        ]
    )


class HttpListener:
    """uvicorn serving make_app's app; `serve()` blocks, `start_in_thread()` is for tests."""

    def __init__(self, host: str, port: int, app, *, timeout: float = 10.0) -> None:
        import uvicorn

        self.config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,  # uvicorn's loggers go through copydesk's JSON renderer
            access_log=False,
            lifespan="off",
            timeout_keep_alive=max(1, int(timeout)),
            backlog=BACKLOG,
            # Finish the requests in flight on SIGTERM, but not forever.
            timeout_graceful_shutdown=max(1, int(timeout)),
        )
        self.server = uvicorn.Server(self.config)

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    def serve(self) -> None:
        self.server.run()

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.server.run, daemon=True)
        thread.start()
        import time

        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return thread

    def stop(self, thread: threading.Thread | None = None) -> None:
        self.server.should_exit = True
        if thread is not None:
            thread.join(timeout=15)


def make_server(
    host: str,
    port: int,
    dispatcher: Dispatcher,
    *,
    token: str = "",
    allow_anonymous: bool = False,
    max_records: int = 100,
    timeout: float = 10.0,
    health: Callable[[], dict] | None = None,
) -> HttpListener:
    app = make_app(dispatcher, token=token, allow_anonymous=allow_anonymous, max_records=max_records, timeout=timeout, health=health)
    return HttpListener(host, port, app, timeout=timeout)
