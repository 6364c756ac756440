"""Real servers on 127.0.0.1 for alert tests: an HTTP webhook receiver and an SMTP server."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    # Wall-clock arrival time (time.time()), for latency measurements.
    received_at: float = field(default_factory=time.time)

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records every POST; returns `fail_status` to the first `failures_left` requests.

    A request with an `Idempotency-Key` header creates a task, like a CRM's
    task endpoint: the same key returns the task created first.
    """

    server: ThreadingHTTPServer
    requests: list[ReceivedRequest] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)
    failures_left: int = 0
    fail_status: int = 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/T000/B000/secret-path"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self.lock:
            self.failures_left = count
            self.fail_status = status

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Wait until at least `count` requests arrived (for requests from other processes)."""
        deadline = threading.Event()
        waited = 0.0
        while waited < timeout:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            deadline.wait(0.02)
            waited += 0.02
        with self.lock:
            return list(self.requests)


def start_webhook_receiver() -> WebhookReceiver:
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests.append(
                    ReceivedRequest(self.path, {k: v for k, v in self.headers.items()}, body)
                )
                failing = receiver.failures_left > 0
                if failing:
                    receiver.failures_left -= 1
                status = receiver.fail_status if failing else 200
                reply = b"ok"
                key = self.headers.get("Idempotency-Key")
                if key and not failing:
                    task_id = receiver.tasks.setdefault(key, f"task-{len(receiver.tasks) + 1}")
                    reply = task_id.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return receiver


def stop_webhook_receiver(receiver: WebhookReceiver) -> None:
    receiver.server.shutdown()
    receiver.server.server_close()


class RecordingHandler:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    controller: Controller
    handler: RecordingHandler
    port: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_tls_files(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate and key for 127.0.0.1; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "smtp-cert.pem"
    key_path = directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def start_smtp_server(
    username: str | None = None,
    password: str | None = None,
    *,
    starttls_context: ssl.SSLContext | None = None,
    implicit_tls_context: ssl.SSLContext | None = None,
) -> SmtpServer:
    """Start an SMTP server on 127.0.0.1; with a username it requires AUTH LOGIN/PLAIN.

    With `starttls_context` the server requires STARTTLS before AUTH and mail;
    with `implicit_tls_context` it speaks TLS from the first byte.
    """
    handler = RecordingHandler()

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == username and auth_data.password.decode() == password
        # handled=False makes aiosmtpd reply 535 to the client on a failure.
        return AuthResult(success=ok, handled=False)

    port = free_port()
    options: dict = {}
    if username is not None:
        options = {
            "authenticator": authenticate,
            "auth_required": True,
            "auth_require_tls": starttls_context is not None,
        }
    if starttls_context is not None:
        options |= {"tls_context": starttls_context, "require_starttls": True}
    if implicit_tls_context is not None:
        options["ssl_context"] = implicit_tls_context
    with warnings.catch_warnings():
        # aiosmtpd warns that AUTH without TLS is unsafe; this server is loopback-only.
        warnings.simplefilter("ignore", UserWarning)
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
    return SmtpServer(controller, handler, port)
