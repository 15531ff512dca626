"""A burst of requests waits for the pool's connections instead of opening more.

Every request beyond the pool's size used to open a database connection of its own,
which the pool closed again when the request returned it: under 32 concurrent
listings on PostgreSQL one request in ten paid for a new backend. Now a request takes
one of the pool's slots when it opens its unit of work (``Runtime.unit_slots``).
"""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import event

from tests.factories import World, bearer

BURST = 40  # as many requests at once as the thread pool runs


def test_a_burst_of_reads_opens_no_connection_beyond_the_pool(world: World) -> None:
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    path = f"/v1/organizations/{world.org.id}/deployments"
    assert world.client.get(path, headers=bearer(token)).status_code == 200  # token known
    opened: list[object] = []
    engine = world.runtime.engine
    event.listen(engine, "connect", lambda *_: opened.append(1))
    # Each request holds its connection a little, as a slower query would, so that
    # the burst's requests overlap.
    event.listen(engine, "checkout", lambda *_: time.sleep(0.02))

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=world.client.app)  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            # A distinct query each, so the answer cache answers none of them.
            calls = (c.get(path, params={"limit": n}, headers=bearer(token)) for n in range(1, 41))
            return await asyncio.gather(*calls)

    answers = asyncio.run(burst())
    assert [a.status_code for a in answers] == [200] * BURST
    assert all(len(a.json()["deployments"]) == 1 for a in answers)
    assert len(opened) <= engine.pool.size()  # type: ignore[attr-defined]
