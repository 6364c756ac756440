"""Runs the webhook receiver in a background thread of the daemon.

The HTTP server is cheroot, the WSGI server of CherryPy. It is pure Python,
serves requests from a pool of worker threads and enforces a body size limit.
Its `prepare()`, `serve()` and `stop()` calls are made for embedding in
another process, which is how the daemon runs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
import structlog
from cheroot import wsgi

from jobs.webhooks.app import HealthReport, WebhookApp
from jobs.webhooks.settings import WebhookSettings

log = structlog.get_logger(__name__)

# Seconds a worker thread waits on a silent client before dropping it.
_SOCKET_TIMEOUT_SECONDS = 10
_STOP_TIMEOUT_SECONDS = 10
_STOP_POLL_SECONDS = 0.1


def _engine_of(store: object) -> sa.Engine:
    """Accept the state store (anything with an `engine`) or a bare Engine."""
    engine = getattr(store, "engine", store)
    if not isinstance(engine, sa.Engine):
        raise TypeError(f"expected a Store or an SQLAlchemy Engine, got {type(store).__name__}")
    return engine


class WebhookService:
    """The webhook receiver: `start()` binds and serves in a thread, `stop()` shuts it down."""

    def __init__(
        self,
        settings: WebhookSettings,
        store: object,
        *,
        on_enqueued: Callable[[], None] | None = None,
        health: Callable[[], HealthReport] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = _engine_of(store)
        extra = {"clock": clock} if clock is not None else {}
        self.app = WebhookApp(
            settings, self.engine, on_enqueued=on_enqueued, health=health, **extra
        )
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (useful with port 0); raises before `start()`."""
        if self._server is None:
            raise RuntimeError("the webhook service is not started")
        return int(self._server.bind_addr[1])

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    def start(self) -> None:
        """Bind the port and serve in a daemon thread; raise OSError when the port is taken."""
        if self._server is not None:
            raise RuntimeError("the webhook service is already started")
        server = wsgi.Server(
            (self.settings.host, self.settings.port),
            self.app,
            numthreads=self.settings.threads,
            server_name="leadscore-webhooks",
            timeout=_SOCKET_TIMEOUT_SECONDS,
        )
        # cheroot itself returns 413 for a Content-Length over this limit.
        server.max_request_body_size = self.settings.max_body_bytes
        # The serve loop checks for stop() this often (cheroot's default is 0.5 s).
        server.expiration_interval = _STOP_POLL_SECONDS
        server.prepare()  # binds now, so a taken port fails here and not in the thread
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="leadscore-webhooks", daemon=True)
        self._thread.start()
        log.info(
            "webhook_service_started",
            host=self.settings.host,
            port=self.port,
            hubspot=self.settings.hubspot_configured,
            gohighlevel=self.settings.ghl_configured,
            generic_accounts=len(self.settings.generic_tokens),
        )

    def stop(self) -> None:
        """Stop accepting requests, let running ones finish, and join the thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.stop()
        if thread is not None:
            thread.join(timeout=_STOP_TIMEOUT_SECONDS)
        self._server = None
        self._thread = None
        log.info("webhook_service_stopped")

    def __enter__(self) -> WebhookService:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
