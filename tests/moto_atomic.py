"""Test-only: moto's standalone server with its conditional writes made atomic.

moto checks an S3 precondition (If-Match / If-None-Match) and then writes in a second step,
and its server runs each request on its own thread, so two concurrent conditional PUTs can
both succeed there, which AWS S3, MinIO and copydesk's folder backend never allow. This runs
the same WSGI app with one lock around conditional writes, so the tests exercise copydesk's
compare-and-swap against the semantics of the real stores instead of working around the double
in production code. Everything else (including SQS long polls) stays concurrent.

Usage: python tests/moto_atomic.py HOST PORT
"""

from __future__ import annotations

import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def atomic_conditional_writes(environ, start_response):
        conditional = environ.get("HTTP_IF_MATCH") or environ.get("HTTP_IF_NONE_MATCH")
        if conditional and environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
            with lock:
                return list(app(environ, start_response))  # the whole response inside the lock
        return app(environ, start_response)

    run_simple(host, port, atomic_conditional_writes, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
