"""The unit of work owns every commit: services flush, the edge commits once, and
what must follow a commit runs only after it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from keyplane.db import unit
from keyplane.db.migrate import upgrade
from keyplane.db.models import Organization
from keyplane.db.session import make_engine, make_sessionmaker

SRC = Path(__file__).resolve().parents[3] / "src" / "keyplane"


@pytest.fixture
def sessions(tmp_path):
    url = f"sqlite:///{tmp_path / 'unit.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_no_module_commits_outside_the_unit_of_work():
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        if "migrations" not in path.parts and path.name != "unit.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.commit\(\s*\)", line)
    ]
    assert offenders == [], f"commit() outside keyplane.db.unit: {offenders}"


def test_a_session_refuses_to_commit_on_its_own(sessions):
    with sessions() as db:
        db.add(Organization(name="acme"))
        with pytest.raises(RuntimeError, match="outside the unit of work"):
            db.commit()


def test_a_unit_commits_once_then_runs_what_was_queued_in_order(sessions):
    ran: list[str] = []
    with unit.unit_of_work(sessions) as db:
        db.add(Organization(name="acme"))
        unit.after_commit(db, lambda: ran.append("mail"))
        unit.after_commit(db, lambda: ran.append("notify"))
        assert ran == []
    assert ran == ["mail", "notify"]
    with sessions() as db:
        assert db.scalar(select(Organization.name)) == "acme"


def test_a_failed_unit_changes_nothing_and_runs_nothing(sessions):
    ran: list[str] = []
    with pytest.raises(ValueError), unit.unit_of_work(sessions) as db:
        db.add(Organization(name="acme"))
        unit.after_commit(db, lambda: ran.append("mail"))
        raise ValueError("the use case failed")
    assert ran == []
    with sessions() as db:
        assert db.scalar(select(Organization.name)) is None


def test_a_failing_action_is_raised_after_the_others_ran_and_the_change_stands(sessions):
    ran: list[str] = []

    def mail() -> None:
        raise ConnectionError("mail server down")

    with pytest.raises(ConnectionError), unit.unit_of_work(sessions) as db:
        db.add(Organization(name="acme"))
        unit.after_commit(db, mail)
        unit.after_commit(db, lambda: ran.append("notify"))
    assert ran == ["notify"]
    with sessions() as db:
        assert db.scalar(select(Organization.name)) == "acme"
