"""Spending ID tokens: each ``jti`` is exchanged once, on any replica (the replay check).

A spent ID token is a row of ``exchanged_id_tokens`` keyed by a SHA-256 of its issuer
and ``jti``; the primary key refuses a second one on any replica until the token
expires. Exchanges running at once on one process share a transaction (a group
commit): the first spend starts a writer, and the spends that arrive while it writes
are written together in its next transaction. Under load that is one commit for many
exchanges instead of one each (the commit, not the insert, is what costs); a spend on
its own is written at once, as before. If the primary key refuses a batch (one of its
tokens was spent meanwhile, here or on another replica), each row of it is written
again in a transaction of its own, so that every exchange gets its own answer. An
exchange is answered only after its row has committed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from keyplane.db.base import utcnow
from keyplane.db.unit import unit_of_work
from keyplane.federation.models import ExchangedIdToken, WorkloadIdentity

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

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
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
        """Spend ``spends`` (in one transaction if the database accepts them all); for
        each, whether it was spent now. A key twice in ``spends``: the first spends it."""
        seen: set[str] = set()
        fresh = []
        for spend in spends:
            fresh.append(spend.key not in seen)
            seen.add(spend.key)
        rows = [s for s, new in zip(spends, fresh, strict=True) if new]
        try:
            self._write(rows, purge=time.monotonic() - self._purged > PURGE_EVERY)
        except IntegrityError:
            if len(rows) == 1:
                return [False] * len(spends)
            alone = {s.key: self._write_alone(s) for s in rows}
            return [new and alone[s.key] for s, new in zip(spends, fresh, strict=True)]
        return fresh

    def _write_alone(self, spend: Spend) -> bool:
        try:
            self._write([spend], purge=False)
        except IntegrityError:
            return False
        return True

    def _write(self, spends: list[Spend], *, purge: bool) -> None:
        touched = sorted({s.touch for s in spends if s.touch})
        with unit_of_work(self._sessions) as db:
            db.execute(
                insert(ExchangedIdToken),
                [{"key": s.key, "expires_at": s.expires_at} for s in spends],
            )
            if touched:
                db.execute(
                    update(WorkloadIdentity)
                    .where(WorkloadIdentity.id.in_(touched))
                    .values(last_used_at=utcnow(), updated_at=WorkloadIdentity.updated_at)
                )
            if purge:
                self._purged = time.monotonic()
                db.execute(delete(ExchangedIdToken).where(ExchangedIdToken.expires_at < utcnow()))
