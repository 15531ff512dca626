"""What `keyplane server` and `keyplane admin` say about settings they cannot work with:
one line per problem, naming its variable, and no traceback (the CLI as a subprocess)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [["server", "--port", "0"], ["admin", "keys", "list"], ["admin", "migrate"]]


def keyplane(cwd: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyplane", *args],
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), **env},
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


INVALID = [  # (variable, value, the line that names it)
    ("KEYPLANE_ACCESS_TOKEN_LIFETIME_SECONDS", "10", "Input should be greater than or equal to 60"),
    ("KEYPLANE_LOG_FORMAT", "xml", "Input should be 'json' or 'text'"),
    ("KEYPLANE_LOG_LEVEL", "LOUD", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("KEYPLANE_NOTIFIER", "redis", "redis needs KEYPLANE_REDIS_URL"),
    ("KEYPLANE_NOTIFIER", "postgresql", "postgresql needs a PostgreSQL KEYPLANE_DATABASE_URL"),
    ("KEYPLANE_DATABASE_URL", "postgresql://u:hunter2@h:x/d", "not a SQLAlchemy URL"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("variable", "value", "line"), INVALID, ids=[f"{n}={v}" for n, v, _ in INVALID]
)
def test_an_invalid_setting_is_one_line_naming_it(
    tmp_path: Path, args: list[str], variable: str, value: str, line: str
) -> None:
    done = keyplane(tmp_path, args, {variable: value})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {variable}: {line}"), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "hunter2" not in done.stderr
    assert not (tmp_path / ".keyplane").exists()  # stopped before touching anything


def test_each_problem_is_its_own_line(tmp_path: Path) -> None:
    env = {"KEYPLANE_LOG_FORMAT": "xml", "KEYPLANE_LOG_LEVEL": "LOUD"}
    done = keyplane(tmp_path, ["server", "--port", "0"], env)
    assert done.returncode == 2
    assert [line.partition(":")[0] for line in done.stderr.splitlines()] == ["error", "error"]
    assert "KEYPLANE_LOG_FORMAT" in done.stderr and "KEYPLANE_LOG_LEVEL" in done.stderr


def test_a_log_level_in_lower_case_is_fine(tmp_path: Path) -> None:
    done = keyplane(tmp_path, ["admin", "migrate"], {"KEYPLANE_LOG_LEVEL": "debug"})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_database_that_does_not_answer_is_named(tmp_path: Path, args: list[str]) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/keyplane"
    done = keyplane(tmp_path, args, {"KEYPLANE_DATABASE_URL": url})
    assert done.returncode == 1, done.stderr
    first, hint = done.stderr.splitlines()
    assert first.startswith("error: KEYPLANE_DATABASE_URL: the database cannot be used: ")
    assert "Connection refused" in first and hint.startswith("hint: check KEYPLANE_DATABASE_URL")
