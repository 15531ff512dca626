"""A GET or HEAD reads in a unit of its own kind: each statement in a transaction of its
own (no BEGIN or COMMIT round trip), and nothing written or locked through it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text, update

from keyplane.db import session, unit
from keyplane.db.models import Organization
from keyplane.runtime import Runtime
from tests.factories import bearer


def test_a_get_reads_what_the_writes_before_it_committed(world) -> None:  # type: ignore[no-untyped-def]
    api, org = world.client, world.org
    made = api.post(
        f"/v1/organizations/{org.id}/workspaces",
        json={"name": "read-back"},
        headers=bearer(org.owner_token),
    )
    assert made.status_code == 201, made.text
    listed = api.get(f"/v1/organizations/{org.id}/workspaces", headers=bearer(org.owner_token))
    assert made.json()["id"] in [w["id"] for w in listed.json()["workspaces"]]


def test_a_reading_unit_refuses_to_write_or_lock(runtime: Runtime, world) -> None:  # type: ignore[no-untyped-def]
    db = runtime.reading()
    try:
        organization = db.get(Organization, world.org.id)
        assert organization is not None
        name = organization.name
        organization.name = "renamed"
        with pytest.raises(RuntimeError, match="reads alone cannot write"):
            db.flush()
        db.rollback()
        with pytest.raises(RuntimeError, match="cannot write or lock"):
            db.execute(update(Organization).values(name="renamed"))
        with pytest.raises(RuntimeError, match="cannot write or lock"):
            db.execute(select(Organization).with_for_update())
    finally:
        db.close()
    with unit.read_only(runtime.sessions) as check:
        assert check.get(Organization, world.org.id).name == name  # type: ignore[union-attr]


def test_each_read_is_a_transaction_of_its_own(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("transaction_timestamp() is PostgreSQL's")
    db = runtime.reading()
    try:
        first = db.scalar(text("SELECT transaction_timestamp()"))
        time.sleep(0.01)
        second = db.scalar(text("SELECT transaction_timestamp()"))
        unit.commit(db)
    finally:
        db.close()
    assert second > first  # in one transaction both would be its start


def test_a_read_on_a_connection_idle_long_enough_to_be_pinged(
    runtime: Runtime, world, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(session, "IDLE_PING_SECONDS", 0.0)  # every checkout pings first
    for _ in range(3):  # the same pooled connection, by reads and writes in turn
        db = runtime.reading()
        try:
            assert db.get(Organization, world.org.id) is not None
            unit.commit(db)
        finally:
            db.close()
        with unit.unit_of_work(runtime.sessions) as db:
            assert db.get(Organization, world.org.id) is not None
