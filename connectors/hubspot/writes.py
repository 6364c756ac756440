"""Score write-back in HubSpot's batch shape, with partial-failure handling.

`POST /crm/v3/objects/contacts/batch/update` takes up to 100 inputs. A 207
response lists the failed inputs in `errors[]`, and each error names its
record ids in `context.ids`. The written inputs are in `results[]` with
their `updatedAt`. Failed inputs with a temporary cause are sent once more, alone in
a new batch; the rest are reported with their reasons. A 400 for a whole batch
(HubSpot rejects every input when one value is invalid in some cases) is
split in halves until the bad inputs are isolated, so one bad contact never
fails a hundred.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from connectors.base import ScoreWrite, WriteReport
from connectors.errors import SkippableRecordError
from connectors.http import HttpClient
from connectors.hubspot.api import BATCH_LIMIT, CONTACTS_BATCH_UPDATE, TEXT_PROPERTY_MAX_CHARS
from connectors.hubspot.config import ScoreProperties
from connectors.hubspot.mapping import parse_datetime, to_iso

log = structlog.get_logger("connectors.hubspot")

# NOTE: HubSpot documents no list of error categories for batch inputs; these
# are the ones that describe a temporary condition rather than a bad value.
RETRYABLE_CATEGORIES = frozenset({"RATE_LIMITS", "INTERNAL_ERROR", "LOCKED", "TIMEOUT"})


def score_properties_payload(write: ScoreWrite, names: ScoreProperties) -> dict[str, str]:
    """Return the absolute property values for one score write, all as strings."""
    return {
        names.score: str(int(write.score)),
        names.fit: str(int(write.fit)),
        names.intent: str(int(write.intent)),
        names.tier: write.tier.value,
        names.reasons: write.reasons[:TEXT_PROPERTY_MAX_CHARS],
        names.scored_at: to_iso(write.scored_at),
    }


@dataclass
class _Outcome:
    written: dict[str, datetime | None] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    retryable: dict[str, str] = field(default_factory=dict)


def _error_ids(error: Mapping[str, Any]) -> list[str]:
    context = error.get("context") or {}
    ids: list[str] = []
    if isinstance(context, Mapping):
        for key in ("ids", "id"):
            value = context.get(key)
            if isinstance(value, str):
                ids.append(value)
            elif isinstance(value, list):
                ids.extend(str(item) for item in value)
    return ids


def _is_retryable(error: Mapping[str, Any]) -> bool:
    if str(error.get("category", "")).upper() in RETRYABLE_CATEGORIES:
        return True
    status = str(error.get("status", ""))
    return status.isdigit() and (int(status) >= 500 or int(status) in (423, 429))


class ScoreWriter:
    """Write score properties to contacts through the batch update endpoint."""

    def __init__(self, http: HttpClient, names: ScoreProperties) -> None:
        self.http = http
        self.names = names

    def write(self, writes: Sequence[ScoreWrite]) -> WriteReport:
        calls_before = self.http.total_calls
        inputs: dict[str, dict[str, str]] = {}
        for write in writes:
            # The last write for a contact wins; one batch must not name a record twice.
            inputs[write.contact_id] = score_properties_payload(write, self.names)

        total = _Outcome()
        ids = list(inputs)
        for start in range(0, len(ids), BATCH_LIMIT):
            chunk = ids[start : start + BATCH_LIMIT]
            outcome = self._send(chunk, inputs)
            total.written.update(outcome.written)
            total.failed.update(outcome.failed)
            total.retryable.update(outcome.retryable)

        if total.retryable:
            retry_ids = list(total.retryable)
            log.info("score_write_retrying_failed_inputs", crm="hubspot", count=len(retry_ids))
            for start in range(0, len(retry_ids), BATCH_LIMIT):
                chunk = retry_ids[start : start + BATCH_LIMIT]
                outcome = self._send(chunk, inputs)
                total.written.update(outcome.written)
                for record_id in chunk:
                    if record_id in outcome.written:
                        continue
                    reason = outcome.failed.get(record_id) or outcome.retryable.get(record_id)
                    total.failed[record_id] = reason or total.retryable[record_id]

        for record_id, reason in total.failed.items():
            log.warning("score_write_failed", crm="hubspot", contact_id=record_id, reason=reason)
        failed = {i: total.failed[i] for i in ids if i in total.failed and i not in total.written}
        return WriteReport(
            written=tuple(i for i in ids if i in total.written),
            failed=failed,
            modified_at={i: m for i, m in total.written.items() if m is not None},
            calls=self.http.total_calls - calls_before,
        )

    def _send(self, chunk: list[str], inputs: Mapping[str, dict[str, str]]) -> _Outcome:
        body = {"inputs": [{"id": i, "properties": inputs[i]} for i in chunk]}
        try:
            status, response = self.http.request_json(
                "POST", CONTACTS_BATCH_UPDATE, json=body, endpoint="contacts.batch_update"
            )
        except SkippableRecordError as exc:
            if len(chunk) == 1:
                return _Outcome(failed={chunk[0]: exc.message})
            middle = len(chunk) // 2
            left = self._send(chunk[:middle], inputs)
            right = self._send(chunk[middle:], inputs)
            return _Outcome(
                written={**left.written, **right.written},
                failed={**left.failed, **right.failed},
                retryable={**left.retryable, **right.retryable},
            )
        return self._parse(chunk, status, response)

    def _parse(self, chunk: list[str], status: int, response: Any) -> _Outcome:
        outcome = _Outcome()
        body = response if isinstance(response, Mapping) else {}
        for result in body.get("results") or ():
            if isinstance(result, Mapping) and result.get("id") is not None:
                record_id = str(result["id"])
                outcome.written[record_id] = parse_datetime(result.get("updatedAt"))
        for error in body.get("errors") or ():
            if not isinstance(error, Mapping):
                continue
            message = str(error.get("message") or error.get("category") or "rejected")
            target = outcome.retryable if _is_retryable(error) else outcome.failed
            for record_id in _error_ids(error) or [i for i in chunk if i not in outcome.written]:
                if record_id in chunk and record_id not in outcome.written:
                    target[record_id] = message
        for record_id in chunk:
            known = (outcome.written, outcome.failed, outcome.retryable)
            if not any(record_id in bucket for bucket in known):
                outcome.failed[record_id] = (
                    f"HubSpot returned HTTP {status} without a result for this contact"
                )
        return outcome
