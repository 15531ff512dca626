"""`keyplane admin set-password`, run as a real process on a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from keyplane.db.session import make_engine, make_sessionmaker
from keyplane.db.unit import unit_of_work
from keyplane.tenancy.bootstrap import init_organization


def _run(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEYPLANE_DATA_DIR": str(data_dir)}
    env.pop("KEYPLANE_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "set-password", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_set_password_checks_policy_and_stores_argon2id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keyplane.db'}"
    from keyplane.db.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        init_organization(db, "demo", "admin@example.com")
    weak = _run(tmp_path, "--email", "admin@example.com", "--password-stdin", stdin="qwertyuiop\n")
    assert weak.returncode == 2  # input refused as invalid (the exit code table)
    assert "most common" in weak.stderr
    nobody = _run(tmp_path, "--email", "nobody@example.com", "--password-stdin", stdin="x\n")
    assert nobody.returncode == 5 and "no user" in nobody.stderr
    good = _run(
        tmp_path, "--email", "admin@example.com", "--password-stdin", stdin="plum vestibule 77\n"
    )
    assert good.returncode == 0, good.stderr
    with create_engine(url).connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$")
    engine.dispose()
