"""Migration 0014: addresses stored with a Unicode domain take their ASCII form, so
that the people behind them can still sign in; a clash is left for the operator."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from keyplane.db.migrate import alembic_config, upgrade


def test_unicode_domains_are_rewritten_and_clashes_left_alone(tmp_path: Path, caplog) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    command.upgrade(alembic_config(url), "0013_sso_domain_verification")
    engine = create_engine(url)
    with engine.begin() as db:
        for user_id, email in (
            ("u1", "carol@münchen.example"),  # as the invitation schema stored it
            ("u2", "dora@bücher.example"),
            ("u3", "dora@xn--bcher-kva.example"),  # the same address, made since
            ("u4", "plain@acme.example"),
        ):
            db.execute(
                text(
                    "INSERT INTO users (id, email, full_name, created_at, updated_at) "
                    "VALUES (:id, :email, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": user_id, "email": email},
            )
    upgrade(url)
    with engine.connect() as db:
        emails = dict(db.execute(text("SELECT id, email FROM users")).tuples().all())
    engine.dispose()
    assert emails == {
        "u1": "carol@xn--mnchen-3ya.example",
        "u2": "dora@bücher.example",  # its ASCII form is taken: the operator merges them
        "u3": "dora@xn--bcher-kva.example",
        "u4": "plain@acme.example",
    }
    assert "u2 (dora@bücher.example): another account has dora@xn--bcher-kva.example" in (
        caplog.text
    )
