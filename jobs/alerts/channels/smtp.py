"""Email over SMTP: a multipart message with a plain-text and an HTML part."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from zoneinfo import ZoneInfo

from jobs.alerts.channels.base import ChannelError
from jobs.alerts.message import AlertNotice, render_html, render_text, subject
from jobs.alerts.settings import SmtpSecurity

DEFAULT_PORTS = {SmtpSecurity.STARTTLS: 587, SmtpSecurity.SSL: 465, SmtpSecurity.NONE: 25}
LOGIN_SETTINGS = "LEADSCORE_ALERT_SMTP_USERNAME and LEADSCORE_ALERT_SMTP_PASSWORD"
HOST_SETTINGS = (
    "LEADSCORE_ALERT_SMTP_HOST, LEADSCORE_ALERT_SMTP_PORT and LEADSCORE_ALERT_SMTP_SECURITY"
)


class EmailChannel:
    """Sends each alert as one email to every configured recipient."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int | None,
        security: SmtpSecurity,
        sender: str,
        recipients: tuple[str, ...],
        zone: ZoneInfo,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._port = port or DEFAULT_PORTS[security]
        self._security = security
        self._sender = sender
        self._recipients = recipients
        self._zone = zone
        self._username = username
        self._password = password
        self._timeout = timeout_seconds
        self._ssl_context = ssl_context

    def build_message(self, notice: AlertNotice, idempotency_key: str) -> EmailMessage:
        """Build the email; its Message-ID derives from the key, so a repeat has the same id."""
        message = EmailMessage()
        message["Subject"] = subject(notice)
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Date"] = formatdate(localtime=False)
        domain = self._sender.rpartition("@")[2] or "leadscore.invalid"
        message["Message-ID"] = f"<{idempotency_key}@{domain}>"
        message["X-Leadscore-Idempotency-Key"] = idempotency_key
        message.set_content(render_text(notice, self._zone))
        message.add_alternative(render_html(notice, self._zone), subtype="html")
        return message

    def send(self, notice: AlertNotice, idempotency_key: str) -> str:
        if not self._recipients:
            raise ChannelError(
                self.name,
                "no recipients are configured",
                setting="LEADSCORE_ALERT_EMAIL_TO",
                retryable=False,
            )
        message = self.build_message(notice, idempotency_key)
        server = f"{self._host}:{self._port}"
        try:
            with self._connect() as client:
                if self._username:
                    client.login(self._username, self._password or "")
                refused = client.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelError(
                self.name,
                f"SMTP login to {server} as {self._username!r} failed ({exc.smtp_code})",
                setting=LOGIN_SETTINGS,
                retryable=False,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise ChannelError(
                self.name,
                f"the SMTP server {server} does not support a step this setup needs "
                f"(STARTTLS or AUTH): {_reason(exc)}",
                setting=HOST_SETTINGS,
                retryable=False,
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(
                self.name,
                f"the SMTP server {server} refused every recipient",
                setting="LEADSCORE_ALERT_EMAIL_TO",
                retryable=False,
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise ChannelError(
                self.name,
                f"the SMTP server {server} refused the sender ({exc.smtp_code})",
                setting="LEADSCORE_ALERT_EMAIL_FROM",
                retryable=False,
            ) from exc
        except (smtplib.SMTPException, ssl.SSLError) as exc:
            raise ChannelError(
                self.name, f"sending through {server} failed: {_reason(exc)}"
            ) from exc
        except TimeoutError as exc:
            raise ChannelError(
                self.name,
                f"connecting to {server} timed out after {self._timeout:g} s",
                setting=HOST_SETTINGS,
            ) from exc
        except OSError as exc:
            raise ChannelError(
                self.name,
                f"connecting to {server} failed: {exc.strerror or type(exc).__name__}",
                setting=HOST_SETTINGS,
            ) from exc
        if refused:
            # Some recipients got it; the rest are named so staff can fix the list.
            return f"sent {message['Message-ID']}; refused: {', '.join(sorted(refused))}"
        return f"sent {message['Message-ID']}"

    def _connect(self) -> smtplib.SMTP:
        context = self._ssl_context or ssl.create_default_context()
        if self._security is SmtpSecurity.SSL:
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        try:
            if self._security is SmtpSecurity.STARTTLS:
                client.ehlo()
                client.starttls(context=context)
                client.ehlo()
        except BaseException:
            client.close()
            raise
        return client


def _reason(exc: Exception) -> str:
    code = getattr(exc, "smtp_code", None)
    error = getattr(exc, "smtp_error", None)
    if isinstance(error, bytes):
        error = error.decode("utf-8", "replace")
    if code is not None:
        return f"{code} {error or ''}".strip()
    return str(exc) or type(exc).__name__
