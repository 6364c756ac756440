"""The one interface every alert channel implements, and its error."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from jobs.alerts.message import AlertNotice


class ChannelError(Exception):
    """A delivery to one channel failed.

    The message names the channel, what failed and, when the cause is a
    setting, the environment variable to fix (`setting`). `retryable=False`
    marks a failure that repeats until the setting is fixed. The outbox still
    keeps the delivery and retries it, so nothing is lost once it is fixed.
    """

    def __init__(
        self, channel: str, message: str, *, setting: str | None = None, retryable: bool = True
    ) -> None:
        self.channel = channel
        self.message = message
        self.setting = setting
        self.retryable = retryable
        text = f"{channel} channel: {message}"
        if setting:
            text += f" (check {setting})"
        super().__init__(text)


@runtime_checkable
class Channel(Protocol):
    """Somewhere alerts go: the CRM, a chat webhook or email."""

    name: str

    def send(self, notice: AlertNotice, idempotency_key: str) -> str:
        """Deliver the notice and return a receipt (a task id, an HTTP status, a message id).

        The same `idempotency_key` is passed when a delivery is repeated after a
        crash. Raises `ChannelError` on failure.
        """
        ...
