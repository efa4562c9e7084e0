"""The port every SMS sender implements, and what a send attempt comes to."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class SendStatus(enum.StrEnum):
    SENT = "sent"  # the provider took it; a delivery report may follow
    RETRY = "retry"  # not taken this time: try again later (backoff)
    FAILED = "failed"  # it will never go: invalid number, blacklisted, ...


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    provider_message_id: str | None = None
    provider_status: str | None = None  # the provider's own word, kept as given
    reason: str | None = None
    # The request may have reached the provider (read timeout, garbled 2xx): a retry may
    # deliver the message twice, so the row is marked.
    maybe_sent: bool = False
    # A message sent in several parts: every part's id, in order (receipts come per part).
    provider_part_ids: tuple[str, ...] = ()


class SmsSender(Protocol):
    """Hands one message to an SMS provider, synchronously (a worker calls it, never a hop).

    `send` does not raise for what the provider says or for network trouble: both come
    back as a `SendResult` (sent, retry or failed). An exception is a bug in the sender."""

    name: str

    def send(self, *, recipient: str, body: str) -> SendResult: ...
