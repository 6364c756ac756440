"""Pagination over HubSpot's list and search endpoints.

Search returns at most 10,000 results per query, and asking for a page past
that cap is a 400. `search_modified_since` sorts by the modification date and,
before reaching the cap, starts a new query whose lower bound is the latest
date seen so far (re-slicing). Records at that exact date come again in the new
slice, so they are dropped by id. If a whole slice shares one date (a bulk
import), that date is walked by `hs_object_id` instead, so a slice always makes
progress.

Every generator stops only when the cursor is absent and raises
DataShapeError on a repeated cursor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.errors import DataShapeError
from connectors.http import HttpClient
from connectors.hubspot.api import LIST_PAGE_SIZE, SEARCH_PAGE_SIZE, SEARCH_RESULT_CAP
from connectors.hubspot.mapping import parse_datetime

Record = Mapping[str, Any]
ID_PROPERTY = "hs_object_id"


def _next_after(body: Any, where: str) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise DataShapeError(
            "response has no 'results' list; the API may have changed",
            crm="hubspot",
            endpoint=where,
        )
    paging = body.get("paging") or {}
    next_page = paging.get("next") if isinstance(paging, dict) else None
    if not isinstance(next_page, dict):
        return None
    after = next_page.get("after")
    return str(after) if after not in (None, "") else None


def list_pages(
    http: HttpClient,
    path: str,
    *,
    properties: Sequence[str],
    after: str | None = None,
    endpoint: str,
) -> Iterator[tuple[list[Record], str | None]]:
    """Yield `(records, next_after)` for each page of a list endpoint, starting after `after`."""
    seen: set[str] = set()
    while True:
        params: dict[str, str] = {"limit": str(LIST_PAGE_SIZE), "archived": "false"}
        if properties:
            params["properties"] = ",".join(properties)
        if after is not None:
            params["after"] = after
        _, body = http.request_json("GET", path, params=params, endpoint=endpoint)
        next_after = _next_after(body, f"GET {path}")
        yield list(body["results"]), next_after
        if next_after is None:
            return
        if next_after in seen or next_after == after:
            raise DataShapeError(
                f"list paging returned the cursor {next_after!r} twice; stopping to avoid a loop",
                crm="hubspot",
                endpoint=f"GET {path}",
            )
        seen.add(next_after)
        after = next_after


def _search_slice(
    http: HttpClient,
    path: str,
    *,
    filters: list[dict[str, Any]],
    sort_property: str,
    properties: Sequence[str],
    endpoint: str,
) -> Iterator[tuple[list[Record], bool]]:
    """Yield `(records, capped)` for one query; `capped` is True on the last page before the cap."""
    after: str | None = None
    seen: set[str] = set()
    while True:
        body: dict[str, Any] = {
            "filterGroups": [{"filters": filters}] if filters else [],
            "sorts": [{"propertyName": sort_property, "direction": "ASCENDING"}],
            "properties": list(properties),
            "limit": SEARCH_PAGE_SIZE,
        }
        if after is not None:
            body["after"] = after
        _, response = http.request_json(
            "POST", path, json=body, endpoint=endpoint, limiter="search"
        )
        next_after = _next_after(response, f"POST {path}")
        records = list(response["results"])
        if next_after is None:
            yield records, False
            return
        if next_after in seen:
            raise DataShapeError(
                f"search paging returned the cursor {next_after!r} twice; stopping to avoid a loop",
                crm="hubspot",
                endpoint=f"POST {path}",
            )
        seen.add(next_after)
        try:
            offset = int(next_after)
        except ValueError as exc:
            raise DataShapeError(
                f"search cursor {next_after!r} is not an integer offset",
                crm="hubspot",
                endpoint=f"POST {path}",
            ) from exc
        capped = offset + SEARCH_PAGE_SIZE > SEARCH_RESULT_CAP
        yield records, capped
        if capped:
            return
        after = next_after


def _modified_ms(record: Record, modified_property: str) -> int | None:
    properties = record.get("properties") or {}
    moment = parse_datetime(properties.get(modified_property)) or parse_datetime(
        record.get("updatedAt")
    )
    return int(moment.timestamp() * 1000) if moment is not None else None


def search_modified_since(
    http: HttpClient,
    path: str,
    *,
    since_ms: int | None,
    modified_property: str,
    properties: Sequence[str],
    extra_filters: Sequence[dict[str, Any]] = (),
    endpoint: str,
) -> Iterator[list[Record]]:
    """Yield pages of records modified at or after `since_ms`, oldest first, across the cap."""
    lower = since_ms
    repeated_at_lower: set[str] = set()
    while True:
        filters = list(extra_filters)
        if lower is not None:
            filters.append(
                {"propertyName": modified_property, "operator": "GTE", "value": str(lower)}
            )
        earliest: int | None = None
        latest: int | None = None
        ids_at_latest: set[str] = set()
        capped = False
        for records, page_capped in _search_slice(
            http,
            path,
            filters=filters,
            sort_property=modified_property,
            properties=properties,
            endpoint=endpoint,
        ):
            capped = page_capped
            fresh = [r for r in records if str(r.get("id")) not in repeated_at_lower]
            for record in records:
                stamp = _modified_ms(record, modified_property)
                if stamp is None:
                    continue
                if earliest is None:
                    earliest = stamp
                if latest is None or stamp > latest:
                    latest, ids_at_latest = stamp, set()
                if stamp == latest:
                    ids_at_latest.add(str(record.get("id")))
            if fresh:
                yield fresh
        if not capped:
            return
        if latest is None:
            raise DataShapeError(
                f"search results carry no {modified_property}; cannot continue past "
                f"{SEARCH_RESULT_CAP} results",
                crm="hubspot",
                endpoint=f"POST {path}",
            )
        if earliest == latest:
            # The whole slice shares one modification date, so a new slice from
            # that date would return the same records: walk that date by id.
            yield from _search_by_id_at(
                http,
                path,
                stamp=latest,
                modified_property=modified_property,
                properties=properties,
                extra_filters=extra_filters,
                endpoint=endpoint,
                already_yielded=ids_at_latest | repeated_at_lower,
            )
            lower = latest + 1
            repeated_at_lower = set()
        else:
            lower = latest
            repeated_at_lower = ids_at_latest


def _search_by_id_at(
    http: HttpClient,
    path: str,
    *,
    stamp: int,
    modified_property: str,
    properties: Sequence[str],
    extra_filters: Sequence[dict[str, Any]],
    endpoint: str,
    already_yielded: set[str],
) -> Iterator[list[Record]]:
    last_id: str | None = None
    while True:
        filters = [
            *extra_filters,
            {"propertyName": modified_property, "operator": "EQ", "value": str(stamp)},
        ]
        if last_id is not None:
            filters.append({"propertyName": ID_PROPERTY, "operator": "GT", "value": last_id})
        capped = False
        for records, page_capped in _search_slice(
            http,
            path,
            filters=filters,
            sort_property=ID_PROPERTY,
            properties=properties,
            endpoint=endpoint,
        ):
            capped = page_capped
            if records:
                last_id = str(records[-1].get("id"))
                fresh = [r for r in records if str(r.get("id")) not in already_yielded]
                if fresh:
                    yield fresh
        if not capped:
            return
