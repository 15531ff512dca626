"""Sorting and slicing for list endpoints (``offset``, ``limit``, ``sorts``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from keyplane.domain.errors import InvalidInput
from keyplane.http.schemas import PageParams

T = TypeVar("T")


def parse_sorts(sorts: Sequence[str], allowed: Sequence[str]) -> list[tuple[str, bool]]:
    """``["name:asc", "createdAt:desc"]`` → ``[("name", False), ("createdAt", True)]``."""
    parsed = []
    for sort in sorts:
        key, _, direction = sort.partition(":")
        direction = direction.lower() or "asc"
        if key not in allowed or direction not in ("asc", "desc"):
            raise InvalidInput(
                f"invalid sort {sort!r}: use one of {', '.join(allowed)} with :asc or :desc",
                field_errors={"sorts": "invalid sort"},
            )
        parsed.append((key, direction == "desc"))
    return parsed


def page_of_list(
    items: Sequence[T], page: PageParams, keys: dict[str, Callable[[T], Any]]
) -> tuple[list[T], int]:
    """Sort and slice rows already filtered in Python."""
    ordered = list(items)
    for key, descending in reversed(parse_sorts(page.sorts, list(keys)) or [("createdAt", False)]):
        ordered.sort(key=keys[key], reverse=descending)
    return ordered[page.offset : page.offset + page.limit], len(ordered)


def page_of_query(
    db: Session, query: Select[Any], page: PageParams, columns: dict[str, ColumnElement[Any]]
) -> tuple[list[Any], int]:
    """Sort and slice in SQL."""
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    orders = [
        columns[key].desc() if descending else columns[key].asc()
        for key, descending in parse_sorts(page.sorts, list(columns)) or [("createdAt", False)]
    ]
    rows = db.scalars(query.order_by(*orders).offset(page.offset).limit(page.limit)).all()
    return list(rows), total
