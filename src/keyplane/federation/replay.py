"""Spending ID tokens: each ``jti`` is exchanged once, on any replica (the replay check).

A spent ID token is a row of ``exchanged_id_tokens`` keyed by a SHA-256 of its issuer
and ``jti``; the primary key refuses a second one on any replica until the token
expires. Exchanges running at once on one process share a transaction (a group
commit): the first spend starts a writer, and the spends that arrive while it writes
are written together in its next transaction. Under load that is one commit for many
exchanges instead of one each; a spend on its own is written at once. The batch is
one ``INSERT … ON CONFLICT DO NOTHING RETURNING key``: a token spent meanwhile, here
or on another replica, is skipped rather than failing the batch, and the keys
returned say which spends succeeded. An exchange is answered only after its row has
committed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from starlette.concurrency import run_in_threadpool

from keyplane.auth.last_used import later_use
from keyplane.db.base import utcnow
from keyplane.db.models import WorkloadIdentity
from keyplane.db.unit import statements
from keyplane.federation.models import ExchangedIdToken

PURGE_EVERY = 60.0  # seconds between deletes of expired rows, per process


@dataclass(frozen=True)
class Spend:
    key: str  # SHA-256 of issuer and jti
    expires_at: datetime
    touch: str | None = None  # a workload identity whose lastUsedAt to write with it


@dataclass
class _Queue:
    waiting: list[tuple[Spend, asyncio.Future[bool]]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


class SpentTokens:
    """The spends of one process, written in shared transactions (see the module).

    Each event loop has its own queue and writer (the server runs one; tests may run
    several at once, one per thread), so an answer is always set on its own loop."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # One statement: the rows the primary key refuses (spent here or on another
        # replica) are skipped, and those inserted are returned, so that each spend
        # gets its answer in one round trip. Built once: building costs as much as
        # the insert.
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = (
            dialect.insert(ExchangedIdToken)
            .on_conflict_do_nothing(index_elements=[ExchangedIdToken.key])
            .returning(ExchangedIdToken.key)
        )
        self._queues: WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = WeakKeyDictionary()
        self._purged = 0.0

    async def spend(self, spend: Spend) -> bool:
        """True once the token is spent by this call; False if it had been spent."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        answer: asyncio.Future[bool] = loop.create_future()
        queue.waiting.append((spend, answer))
        if queue.writer is None or queue.writer.done():
            queue.writer = loop.create_task(self._write_waiting(queue))
        return await answer

    async def _write_waiting(self, queue: _Queue) -> None:
        while queue.waiting:
            batch, queue.waiting = queue.waiting, []
            try:
                spent = await run_in_threadpool(self.write, [spend for spend, _ in batch])
            except Exception as error:
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            for (_, answer), done in zip(batch, spent, strict=True):
                if not answer.done():  # its request may have been cancelled meanwhile
                    answer.set_result(done)

    def write(self, spends: list[Spend]) -> list[bool]:
        """Spend ``spends`` in one transaction; for each, whether it was spent now. A
        key twice in ``spends``: the first spends it."""
        first: dict[str, Spend] = {}  # in order: the first spend of each key
        for spend in spends:
            first.setdefault(spend.key, spend)
        purge = time.monotonic() - self._purged > PURGE_EVERY
        # Core statements, no session (a quarter of the cost): these rows and
        # lastUsedAt are in no cache.
        with statements(self._engine) as connection:
            rows = [{"key": s.key, "expires_at": s.expires_at} for s in first.values()]
            spent = set(connection.scalars(self._insert, rows))
            touched = sorted({s.touch for s in first.values() if s.touch and s.key in spent})
            if touched:
                now = utcnow()
                connection.execute(
                    update(WorkloadIdentity)
                    .where(
                        WorkloadIdentity.id.in_(touched),
                        later_use(WorkloadIdentity.last_used_at, now),
                    )
                    .values(last_used_at=now, updated_at=WorkloadIdentity.updated_at)
                )
            if purge:
                self._purged = time.monotonic()
                connection.execute(
                    delete(ExchangedIdToken).where(ExchangedIdToken.expires_at < utcnow())
                )
        answers = []
        for spend in spends:
            answers.append(spend.key in spent)
            spent.discard(spend.key)  # a second spend of a key in this batch is refused
        return answers
