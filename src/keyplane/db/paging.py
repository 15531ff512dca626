"""Paging for list use cases (``offset``, ``limit``, ``sorts``), done in the query.

Services import this module, never ``keyplane.http``: the HTTP edge only parses the
query string into a :class:`PageParams`. Sorting and slicing happen in SQL, so a
listing reads one page of rows (and counts the rest), whatever the table holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, func, select
from sqlalchemy.orm import Session

from keyplane.domain.errors import InvalidInput

MAX_LIMIT = 1000
# Databases keep OFFSET in a signed 64-bit integer (SQLite, PostgreSQL's bigint); a
# larger one is an error there, not an empty page. No list comes near this many rows.
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class PageParams:
    """Which page of a listing: ``sorts`` as ``["name:asc", "createdAt:desc"]``."""

    offset: int = 0
    limit: int = 20
    sorts: Sequence[str] = ()

    def or_sorted_by(self, *sorts: str) -> PageParams:
        """These params, with ``sorts`` as the order when the caller gave none."""
        return self if self.sorts else replace(self, sorts=sorts)


def parse_sorts(sorts: Sequence[str], allowed: Sequence[str]) -> list[tuple[str, bool]]:
    """``["name:asc", "createdAt:desc"]`` → ``[("name", False), ("createdAt", True)]``.

    Raises InvalidInput for a key not in ``allowed`` or a direction other than asc/desc.
    """
    parsed = []
    for sort in sorts:
        key, _, direction = sort.partition(":")
        direction = direction.lower() or "asc"
        if key not in allowed or direction not in ("asc", "desc"):
            raise InvalidInput(
                f"invalid sort: use one of {', '.join(allowed)} with :asc or :desc",
                field_errors={"sorts": "invalid sort"},
            )
        parsed.append((key, direction == "desc"))
    return parsed


def page_of_query(
    db: Session,
    query: Select[Any],
    page: PageParams,
    columns: Mapping[str, SQLColumnExpression[Any]],
    *,
    tiebreak: SQLColumnExpression[Any],
) -> tuple[list[Any], int]:
    """One page of ``query``'s rows and the number of rows in all pages.

    ``columns`` maps each sort key to its column (``createdAt`` is the default);
    ``tiebreak``, a unique column (the primary key), orders rows whose sort values
    are equal, so that no row is skipped or shown twice between pages. The count
    costs a second query only when the page is full (or past the end).
    """
    orders = [
        columns[key].desc() if descending else columns[key].asc()
        for key, descending in parse_sorts(page.sorts, list(columns)) or [("createdAt", False)]
    ]
    orders.append(tiebreak.asc())
    rows = list(db.scalars(query.order_by(*orders).offset(page.offset).limit(page.limit)))
    if 0 < len(rows) < page.limit or (not rows and page.offset == 0):
        return rows, page.offset + len(rows)  # the last page: no count needed
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return rows, total
