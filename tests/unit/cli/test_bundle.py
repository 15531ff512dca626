"""What ``keyplane deploy`` packs: an Astro project's local secrets stay behind, as with
``astro deploy``, which honours the project's ``.dockerignore``."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from keyplane.cli.bundle import pack

# What `astro dev init` writes.
ASTRO_DOCKERIGNORE = "astro\n.git\n.env\nairflow_settings.yaml\nlogs/\n.venv\nairflow.db\n"


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def packed(root: Path) -> list[str]:
    bundle = pack(root)
    with bundle.file, tarfile.open(fileobj=bundle.file, mode="r:gz") as tar:
        return sorted(tar.getnames())


def applied(root: Path) -> str | None:
    """The ignore file the bundle says it applied (``deploy`` prints it)."""
    bundle = pack(root)
    with bundle.file:
        return bundle.ignore_file


def test_an_astro_projects_dockerignore_keeps_its_secrets_out(tmp_path: Path) -> None:
    root = project(tmp_path, {
        ".dockerignore": ASTRO_DOCKERIGNORE,
        ".env": "AIRFLOW_CONN_PROD=postgres://admin:hunter2@db\n",
        "airflow_settings.yaml": "connections: [{conn_password: hunter2}]\n",
        "logs/scheduler/latest.log": "noise\n",
        ".venv/bin/python": "",
        "dags/etl.py": "from airflow import DAG\n",
        "requirements.txt": "pandas\n",
    })  # fmt: skip
    assert packed(root) == [".dockerignore", "dags/etl.py", "requirements.txt"]
    assert applied(root) == ".dockerignore"


@pytest.mark.parametrize("ignore", [".dockerignore", ".keyplaneignore"])
def test_a_byte_order_mark_does_not_hide_the_first_pattern(tmp_path: Path, ignore: str) -> None:
    """Some Windows editors start a saved file with a UTF-8 byte-order mark."""
    root = project(tmp_path, {ignore: "", ".env": "SECRET=1\n", "dags/a.py": ""})
    (root / ignore).write_bytes(b"\xef\xbb\xbf.env\nlogs/\n")
    assert ".env" not in packed(root)


@pytest.mark.parametrize(
    ("pattern", "path", "left_out"),
    [
        ("*.pyc", "top.pyc", True),
        ("*.pyc", "dags/deep.pyc", False),  # Docker matches from the root only
        ("**/*.pyc", "dags/deep.pyc", True),
        ("astro", "dags/astro/tasks.py", False),
        ("/include/secret.sql", "include/secret.sql", True),
        ("./include/", "include/secret.sql", True),
        ("  .env  ", ".env", True),
        ("# .env", ".env", False),
        ("*.md\n!README.md", "README.md", False),
    ],
)
def test_dockerignore_lines_mean_what_docker_reads(
    tmp_path: Path, pattern: str, path: str, left_out: bool
) -> None:
    root = project(tmp_path, {".dockerignore": pattern + "\n", path: "x\n", "keep.txt": "x\n"})
    names = packed(root)
    assert (path not in names) is left_out and "keep.txt" in names


def test_a_keyplaneignore_wins_over_the_dockerignore(tmp_path: Path) -> None:
    root = project(tmp_path, {
        ".keyplaneignore": "*.log\n",
        ".dockerignore": "dags/\n",
        "dags/etl.py": "x\n",
        "logs/a.log": "x\n",
    })  # fmt: skip
    assert packed(root) == [".dockerignore", ".keyplaneignore", "dags/etl.py"]
    assert applied(root) == ".keyplaneignore"


def test_without_an_ignore_file_only_git_stays_behind(tmp_path: Path) -> None:
    root = project(tmp_path, {".git/config": "x\n", ".env": "x\n", "dags/etl.py": "x\n"})
    assert packed(root) == [".env", "dags/etl.py"]
    assert applied(root) is None
