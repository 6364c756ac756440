"""Serve a fake CRM over real HTTP on 127.0.0.1, for tests that run the CLI in a subprocess."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class LoopbackReply:
    """An HTTP response for `serve_on_loopback` to send.

    The server sends `headers` first, then `Content-Type` and `Content-Length`.
    """

    status: int
    headers: Mapping[str, str]
    payload: bytes
    content_type: str


# A function called with (method, url, headers, body) for each request. The url
# is `http://127.0.0.1` plus the request's path and query, without the port, and
# body is b"" when the request has none. Returning None drops the connection
# without a response.
Responder = Callable[[str, str, dict[str, str], bytes], LoopbackReply | None]


@contextlib.contextmanager
def serve_on_loopback(respond: Responder, methods: Collection[str]) -> Iterator[str]:
    """Serve `respond` on 127.0.0.1 on a free port and yield the base URL.

    Only the HTTP `methods` named are routed to `respond`; any other method gets
    the standard library's 501 response. The server stops when the block exits.
    """

    class Handler(BaseHTTPRequestHandler):
        def _respond(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = f"http://127.0.0.1{self.path}"
            reply = respond(self.command, url, dict(self.headers.items()), body)
            if reply is None:
                self.close_connection = True
                return
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.payload)))
            self.end_headers()
            self.wfile.write(reply.payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    for method in methods:
        setattr(Handler, f"do_{method.upper()}", Handler._respond)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
