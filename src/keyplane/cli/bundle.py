"""Packing a project folder into a deploy bundle (tar.gz), minus what an ignore file lists.

The ignore file is ``.keyplaneignore`` (gitignore syntax, via ``pathspec``) or, when
there is none, the ``.dockerignore`` of an Astro project, which ``astro deploy`` honours
and which lists the project's local secrets (``.env``, ``airflow_settings.yaml``).
``.git/`` is never packed. The archive is reproducible: entries sorted, owners and times
zeroed, no timestamp in the gzip header, so the same files give the same SHA-256 and the
server stores them once.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

KEYPLANE_IGNORE, DOCKER_IGNORE = ".keyplaneignore", ".dockerignore"
IGNORE_FILES = (KEYPLANE_IGNORE, DOCKER_IGNORE)  # the first one present is used
ALWAYS_IGNORED = [".git/"]


@dataclass
class Bundle:
    file: BinaryIO  # positioned at the start; a temporary file, gone when closed
    size: int
    sha256: str
    files: int
    ignore_file: str | None  # the one of IGNORE_FILES that was applied, if any


def ignore_file(root: Path) -> str | None:
    """The first of IGNORE_FILES in ``root``, or None if it has neither."""
    return next((name for name in IGNORE_FILES if (root / name).is_file()), None)


def included_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files to pack, sorted."""
    import pathspec  # only when packing, not on every start of the CLI

    lines = list(ALWAYS_IGNORED)
    ignore = ignore_file(root)
    if ignore is not None:
        # utf-8-sig: an editor's byte-order mark must not hide the first pattern (Docker
        # strips it too).
        text = (root / ignore).read_text(encoding="utf-8-sig").splitlines()
        lines += text if ignore == KEYPLANE_IGNORE else gitignore_lines(text)
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    found = []
    for directory, dirs, files in os.walk(root):
        base = Path(directory).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not spec.match_file(f"{(base / d).as_posix()}/"))
        for name in files:
            relative = (base / name).as_posix()
            if not spec.match_file(relative):
                found.append(relative)
    return sorted(found)


def gitignore_lines(dockerignore: Iterable[str]) -> list[str]:
    """``.dockerignore`` lines as the gitignore lines that mean the same.

    Read as Docker reads them (moby/patternmatcher ``ReadAll``): ``#`` in the first
    column starts a comment, a line is trimmed, and the pattern is cleaned like a path
    (``./logs/`` is ``logs``). Docker matches every pattern from the project's root
    (``*.log`` is only the top folder's, ``**/*.log`` any folder's) while gitignore
    matches a pattern without a slash at any depth, so each is anchored with ``/``.
    One difference is left: ``!`` cannot bring back a file inside an excluded folder,
    as in git; that only ever leaves out more.
    """
    lines = []
    for raw in dockerignore:
        if raw.startswith("#") or not (pattern := raw.strip()):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip()
        if pattern:
            cleaned = posixpath.normpath(pattern).lstrip("/")
            lines.append(f"{'!' if negate else ''}/{cleaned}")
    return lines


def pack(root: Path) -> Bundle:
    """The folder as a tar.gz in a temporary file (never in memory)."""
    names = included_files(root)
    out: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115  # the Bundle owns it
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in names:
            info = tar.gettarinfo(str(root / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isreg():
                with (root / name).open("rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)
    size = out.tell()
    out.seek(0)
    digest = hashlib.sha256()
    while block := out.read(1024 * 1024):
        digest.update(block)
    out.seek(0)
    return Bundle(out, size, digest.hexdigest(), len(names), ignore_file(root))
