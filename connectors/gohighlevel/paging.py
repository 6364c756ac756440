"""Contact search paging: page numbers within the first 10,000 results, `searchAfter` beyond.

`POST /contacts/search` returns at most 500 contacts per page. Page numbers
reach only the first 10,000 results. Every hit carries a `searchAfter` array
(its sort values), and passing it continues the search after that hit at any
depth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.errors import DataShapeError
from connectors.gohighlevel import constants
from connectors.gohighlevel.client import GoHighLevelClient

CRM = "gohighlevel"


@dataclass(frozen=True, slots=True)
class SearchPosition:
    """The start of the next search page: a page number or a `searchAfter` cursor."""

    page: int | None = 1
    search_after: tuple[Any, ...] | None = None

    def to_token(self) -> str:
        if self.search_after is not None:
            return json.dumps({"searchAfter": list(self.search_after)})
        return json.dumps({"page": self.page})

    @classmethod
    def from_token(cls, token: str | None) -> SearchPosition:
        if not token:
            return cls()
        try:
            data = json.loads(token)
            if "searchAfter" in data:
                return cls(page=None, search_after=tuple(data["searchAfter"]))
            page = int(data["page"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"resume token {token[:80]!r} is not a GoHighLevel search position; "
                "start the backfill again without it"
            ) from exc
        if page < 1:
            raise ValueError(f"resume token page must be >= 1, got {page}")
        return cls(page=page)


def search_contacts(
    client: GoHighLevelClient,
    *,
    filters: list[dict[str, Any]],
    sort_field: str,
    start: SearchPosition,
    use_page_numbers: bool = True,
    page_limit: int = constants.SEARCH_PAGE_LIMIT,
    result_window: int = constants.SEARCH_RESULT_WINDOW,
) -> Iterator[tuple[list[dict[str, Any]], SearchPosition | None]]:
    """Yield `(contacts, next position)` per page, in ascending `sort_field` order.

    With `use_page_numbers=False` only the first page goes by number and the
    rest follow `searchAfter`, which stays correct while matching contacts
    change between pages (an incremental pull writes to the contacts it reads).
    Raises DataShapeError when the API repeats a cursor or omits it.
    """
    position = start
    seen_cursors: set[str] = set()
    while True:
        body: dict[str, Any] = {
            "locationId": client.location_id,
            "pageLimit": page_limit,
            "filters": filters,
            "sort": [{"field": sort_field, "direction": "asc"}],
        }
        if position.search_after is not None:
            body["searchAfter"] = list(position.search_after)
        else:
            body["page"] = position.page or 1
        _, response = client.call("POST", constants.CONTACTS_SEARCH, json=body)
        contacts = response.get("contacts") if isinstance(response, dict) else None
        if not isinstance(contacts, list):
            raise DataShapeError(
                "contact search response has no `contacts` array",
                crm=CRM,
                endpoint="POST " + constants.CONTACTS_SEARCH,
            )
        if len(contacts) < page_limit:
            yield contacts, None
            return

        next_page = (position.page or 0) + 1
        if (
            use_page_numbers
            and position.search_after is None
            and next_page * page_limit <= result_window
        ):
            position = SearchPosition(page=next_page)
        else:
            cursor = contacts[-1].get("searchAfter") if isinstance(contacts[-1], dict) else None
            if not isinstance(cursor, list) or not cursor:
                raise DataShapeError(
                    "contact search hit has no `searchAfter` cursor, so paging cannot go on",
                    crm=CRM,
                    endpoint="POST " + constants.CONTACTS_SEARCH,
                )
            key = json.dumps(cursor)
            if key in seen_cursors:
                raise DataShapeError(
                    f"contact search returned the cursor {key} twice; stopping to avoid a loop",
                    crm=CRM,
                    endpoint="POST " + constants.CONTACTS_SEARCH,
                )
            seen_cursors.add(key)
            position = SearchPosition(page=None, search_after=tuple(cursor))
        yield contacts, position
