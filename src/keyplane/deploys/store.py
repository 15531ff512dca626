"""Where bundles live: content-addressed by SHA-256, on a local directory or any fsspec URL.

A bundle enters the store only whole: the upload is staged in a temporary file
first, then moved into place in one step (``os.replace`` locally; on other
filesystems a ``.partial`` name renamed when complete, which object stores such as
S3 make atomic by themselves). Two deploys of the same bytes share one file.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from keyplane.config import Settings


class BundleStore(Protocol):
    @property
    def staging_dir(self) -> Path:
        """A local directory for uploads in progress (same filesystem as the store if local)."""

    def put(self, staged: Path, digest: str) -> None:
        """Move a complete, verified staged file into the store under its digest."""

    def exists(self, digest: str) -> bool: ...

    def open(self, digest: str) -> IO[bytes]:
        """The bundle for reading; raises FileNotFoundError if it is not stored."""

    def stored(self) -> Iterator[tuple[str, float | None]]:
        """Each stored bundle's digest, with when it was stored (a POSIX time; None
        where the filesystem does not say)."""

    def stored_at(self, digest: str) -> float | None:
        """When the bundle was last stored (by any deploy of its bytes); None if it is
        not there or the filesystem does not say."""

    def delete(self, digest: str) -> None:
        """Remove a bundle; nothing if it is not stored."""


_NAME = re.compile(r"([0-9a-f]{64})\.tar\.gz")


def _relative(digest: str) -> str:
    return f"{digest[:2]}/{digest}.tar.gz"


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / ".staging"
        self._staging.mkdir(parents=True, exist_ok=True)

    @property
    def staging_dir(self) -> Path:
        return self._staging

    def path(self, digest: str) -> Path:
        return self.root / _relative(digest)

    def put(self, staged: Path, digest: str) -> None:
        final = self.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def open(self, digest: str) -> IO[bytes]:
        return self.path(digest).open("rb")

    def stored(self) -> Iterator[tuple[str, float | None]]:
        for path in self.root.glob("??/*.tar.gz"):
            if _NAME.fullmatch(path.name):
                yield path.name[:64], self.stored_at(path.name[:64])

    def stored_at(self, digest: str) -> float | None:
        try:
            return self.path(digest).stat().st_mtime
        except FileNotFoundError:
            return None

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)


class FsspecStore:
    def __init__(self, url: str, staging: Path) -> None:
        import fsspec  # type: ignore[import-untyped]  # imported only when a URL is set

        self.fs: Any
        self.fs, self.base = fsspec.core.url_to_fs(url)
        self.base = self.base.rstrip("/")
        self._staging = staging
        self._staging.mkdir(parents=True, exist_ok=True)

    @property
    def staging_dir(self) -> Path:
        return self._staging

    def _path(self, digest: str) -> str:
        return f"{self.base}/{_relative(digest)}"

    def put(self, staged: Path, digest: str) -> None:
        # Written even when these bytes are stored already: the new write is the time
        # `admin deploys prune` goes by, so it cannot take a bundle a deploy records now.
        final = self._path(digest)
        partial = f"{final}.partial-{secrets.token_hex(6)}"
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        try:
            self.fs.put_file(str(staged), partial)
            self.fs.mv(partial, final)
        except BaseException:
            if self.fs.exists(partial):
                self.fs.rm(partial)
            raise
        staged.unlink(missing_ok=True)

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def open(self, digest: str) -> IO[bytes]:
        path = self._path(digest)
        if not self.fs.exists(path):
            raise FileNotFoundError(path)
        handle: IO[bytes] = self.fs.open(path, "rb")
        return handle

    def stored(self) -> Iterator[tuple[str, float | None]]:
        for path in self.fs.glob(f"{self.base}/??/*.tar.gz"):
            name = str(path).rsplit("/", 1)[-1]
            if _NAME.fullmatch(name):
                yield name[:64], self.stored_at(name[:64])

    def stored_at(self, digest: str) -> float | None:
        try:
            return float(self.fs.modified(self._path(digest)).timestamp())
        except (NotImplementedError, AttributeError, OSError, ValueError):
            return None

    def delete(self, digest: str) -> None:
        path = self._path(digest)
        if self.fs.exists(path):
            self.fs.rm(path)


def load_store(settings: Settings) -> BundleStore:
    if settings.deploy_store_url:
        return FsspecStore(settings.deploy_store_url, settings.data_dir / "uploads")
    return LocalStore(settings.data_dir / "bundles")
