"""Spent ID tokens (keyplane.federation.replay): each is spent once, on any replica, and
spends made at the same time share one transaction."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from keyplane.db.models import WorkloadIdentity
from keyplane.db.unit import read_only
from keyplane.federation.models import ExchangedIdToken
from keyplane.federation.replay import Spend, SpentTokens
from keyplane.runtime import Runtime


def spend(name: str) -> Spend:
    key = hashlib.sha256(name.encode()).hexdigest()
    return Spend(key, datetime.now(UTC) + timedelta(minutes=5))


@pytest.fixture
def commits(engine: Engine, runtime: Runtime) -> Iterator[list[int]]:
    seen: list[int] = []

    def count(_connection: Any) -> None:
        seen.append(1)

    event.listen(engine, "commit", count)
    yield seen
    event.remove(engine, "commit", count)


def stored(runtime: Runtime) -> set[str]:
    with read_only(runtime.sessions) as db:
        return set(db.scalars(select(ExchangedIdToken.key)))


def test_spends_at_the_same_time_share_one_transaction(
    runtime: Runtime, commits: list[int]
) -> None:
    spent = SpentTokens(runtime.engine)
    spends = [spend(f"jti-{n}") for n in range(20)]

    async def all_at_once() -> list[bool]:
        return list(await asyncio.gather(*(spent.spend(s) for s in [*spends, spends[3]])))

    answers = asyncio.run(all_at_once())

    assert answers == [True] * 20 + [False]  # the same token twice: spent by the first
    assert len(commits) < 3  # 21 spends, not 21 transactions
    assert stored(runtime) == {s.key for s in spends}


def test_a_token_spent_on_another_replica_is_refused_and_the_batch_still_answers(
    runtime: Runtime,
) -> None:
    elsewhere, here = SpentTokens(runtime.engine), SpentTokens(runtime.engine)
    assert elsewhere.write([spend("taken")]) == [True]

    # The primary key refuses the batch; each of its rows is written on its own.
    answers = here.write([spend("a"), spend("taken"), spend("b"), spend("a")])

    assert answers == [True, False, True, False]
    assert stored(runtime) == {spend(n).key for n in ("taken", "a", "b")}
    assert here.write([spend("b")]) == [False]


def test_a_spend_is_answered_only_after_it_commits(runtime: Runtime) -> None:
    spent = SpentTokens(runtime.engine)

    async def one() -> tuple[bool, set[str]]:
        return await spent.spend(spend("alone")), stored(runtime)

    done, rows = asyncio.run(one())

    assert done and spend("alone").key in rows


def test_only_a_spend_that_succeeds_records_the_identitys_use(
    runtime: Runtime, identity: dict[str, Any]
) -> None:
    spent = SpentTokens(runtime.engine)
    assert spent.write([spend("used")]) == [True]
    replay = Spend(spend("used").key, spend("used").expires_at, touch=identity["id"])

    assert spent.write([replay]) == [False]

    with read_only(runtime.sessions) as db:
        row = db.get(WorkloadIdentity, identity["id"])
        assert row is not None and row.last_used_at is None
    assert spent.write([Spend(spend("new").key, replay.expires_at, touch=identity["id"])]) == [True]
    with read_only(runtime.sessions) as db:
        row = db.get(WorkloadIdentity, identity["id"])
        assert row is not None and row.last_used_at is not None
