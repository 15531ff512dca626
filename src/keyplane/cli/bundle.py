"""Packing a project folder into a deploy bundle (tar.gz), honouring ``.keyplaneignore``.

``.keyplaneignore`` uses gitignore syntax (via ``pathspec``). ``.git/`` is never
packed. The archive is reproducible: entries sorted, owners and times zeroed, no
timestamp in the gzip header, so the same files give the same SHA-256 and the
server stores them once.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

IGNORE_FILE = ".keyplaneignore"
ALWAYS_IGNORED = [".git/"]


@dataclass
class Bundle:
    file: BinaryIO  # positioned at the start; a temporary file, gone when closed
    size: int
    sha256: str
    files: int


def included_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files to pack, sorted."""
    import pathspec  # only when packing, not on every start of the CLI

    lines = list(ALWAYS_IGNORED)
    ignore = root / IGNORE_FILE
    if ignore.is_file():
        lines += ignore.read_text().splitlines()
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
    return Bundle(out, size, digest.hexdigest(), len(names))
