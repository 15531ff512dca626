"""What `keyplane admin` says when it is run without the server's settings: the CLI as a
subprocess in an empty directory, with only PATH and HOME set."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


def admin(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", *args],
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), **env},
        cwd=cwd, input="plum vestibule 77\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip


COMMANDS_ON_DATA = [
    ["token", "create", "--organization", "demo"],
    ["audit", "verify"],
    ["audit", "prune"],
    ["sso", "list"],
    ["sso", "verify", "acme.com", "--organization", "demo"],
    ["keys", "list"],
    ["keys", "rotate"],
    ["notify"],
    ["deploys", "prune"],
    ["set-password", "--email", "admin@example.com", "--password-stdin"],
    ["set-password", "--email", "admin@example.com"],  # refused before the prompt
]


@pytest.mark.parametrize("args", COMMANDS_ON_DATA, ids=" ".join)
def test_a_missing_sqlite_database_is_named_not_created(tmp_path: Path, args: list[str]) -> None:
    done = admin(tmp_path, *args)
    assert done.returncode == 1, done.stderr
    expected = tmp_path.resolve() / ".keyplane" / "keyplane.db"
    assert done.stderr.startswith(f"error: no database at {expected} (neither KEYPLANE_DATA_DIR")
    assert "Traceback" not in done.stderr and "password" not in done.stderr.lower()
    assert not (tmp_path / ".keyplane").exists()


def test_the_message_names_the_setting_the_path_came_from(tmp_path: Path) -> None:
    in_data_dir = admin(tmp_path, "keys", "list", KEYPLANE_DATA_DIR=str(tmp_path / "srv"))
    assert f"no database at {tmp_path.resolve()}/srv/keyplane.db (in KEYPLANE_DATA_DIR)" in (
        in_data_dir.stderr
    )
    by_url = admin(tmp_path, "keys", "list", KEYPLANE_DATABASE_URL="sqlite:///elsewhere.db")
    assert f"no database at {tmp_path.resolve()}/elsewhere.db (KEYPLANE_DATABASE_URL)" in (
        by_url.stderr
    )
    assert "KEYPLANE_DATA_DIR" in by_url.stderr  # the hint names both
    assert not (tmp_path / "srv").exists() and not (tmp_path / "elsewhere.db").exists()


def test_init_still_creates_the_database(tmp_path: Path) -> None:
    made = admin(tmp_path, "init", "--organization", "demo", "--email", "admin@example.com")
    assert made.returncode == 0, made.stderr
    listed = admin(tmp_path, "keys", "list")
    assert listed.returncode == 0, listed.stderr


def test_deploys_prune_runs_from_cron_on_a_new_database(tmp_path: Path) -> None:
    admin(tmp_path, "init", "--organization", "demo", "--email", "admin@example.com")
    pruned = admin(tmp_path, "deploys", "prune", "--older-than-hours", "0")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout == "pruned 0 bundle(s) no deploy names\n"


def test_deploys_prune_removes_the_uploads_a_stopped_server_left(tmp_path: Path) -> None:
    admin(tmp_path, "init", "--organization", "demo", "--email", "admin@example.com")
    staging = tmp_path / ".keyplane" / "bundles" / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    left, writing = staging / "upload-left.part", staging / "upload-writing.part"
    for path in (left, writing):
        path.write_bytes(b"\x1f\x8b half a bundle")
    two_days_ago = time.time() - 2 * 86400
    os.utime(left, (two_days_ago, two_days_ago))
    pruned = admin(tmp_path, "deploys", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.splitlines() == [
        "pruned 0 bundle(s) no deploy names",
        "removed 1 unfinished upload(s) a stopped server left",
    ]
    assert not left.exists() and writing.exists()


@pytest.mark.parametrize(
    ("revision", "said"),
    [
        (None, "error: the database has no keyplane tables yet\n"),
        ("0013_sso_domain_verification", "error: the database has migrations to apply"),
        ("9999_from_a_newer_keyplane", "error: the database was migrated by a newer version"),
    ],
    ids=["empty", "behind", "ahead"],
)
def test_a_database_without_this_schema_is_named_not_used(
    tmp_path: Path, revision: str | None, said: str
) -> None:
    admin(tmp_path, "init", "--organization", "demo", "--email", "admin@example.com")
    database = tmp_path / ".keyplane" / "keyplane.db"
    with sqlite3.connect(database) as connection:
        if revision is None:
            tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for (name,) in tables.fetchall():
                connection.execute(f'DROP TABLE "{name}"')
        else:
            connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    done = admin(tmp_path, "keys", "list")
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith(said), done.stderr
    assert "Traceback" not in done.stderr and "SELECT" not in done.stderr


def test_a_database_url_of_another_kind_is_a_usage_error(tmp_path: Path) -> None:
    done = admin(tmp_path, "keys", "list", KEYPLANE_DATABASE_URL="mysql://kp@127.0.0.1/kp")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: KEYPLANE_DATABASE_URL: keyplane runs on SQLite")
    assert "Traceback" not in done.stderr
