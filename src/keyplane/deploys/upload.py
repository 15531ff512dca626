"""Receiving a bundle: streamed to a staging file while hashed and counted.

Never more than one chunk is in memory. Whatever goes wrong (too large, client
gone, not a gzip stream, digest mismatch), the staging file is removed before the
error leaves, so a broken upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import ClientDisconnect

from keyplane.domain.errors import DomainError, InvalidInput

GZIP_MAGIC = b"\x1f\x8b"


class PayloadTooLarge(DomainError):
    status_code = 413


class UploadInterrupted(DomainError):
    """The client went away before the whole bundle arrived."""

    status_code = 400


@dataclass(frozen=True)
class Staged:
    path: Path
    digest: str
    size: int


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"bundle too large: the limit is {limit} bytes (KEYPLANE_DEPLOY_MAX_BYTES); "
        "list what the runtime does not need in .keyplaneignore"
    )


STAGED_PREFIX, STAGED_SUFFIX = "upload-", ".part"


async def receive(chunks: AsyncIterator[bytes], staging: Path, limit: int) -> Staged:
    """Write the stream to a new file in ``staging``; raises and removes it on any failure."""
    fd, name = tempfile.mkstemp(prefix=STAGED_PREFIX, suffix=STAGED_SUFFIX, dir=staging)
    path = Path(name)
    hasher = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as file:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                hasher.update(chunk)
                file.write(chunk)
        _check_gzip(path, size)
    except ClientDisconnect as error:
        path.unlink(missing_ok=True)
        raise UploadInterrupted("upload interrupted: the bundle was not stored") from error
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(path, hasher.hexdigest(), size)


def _check_gzip(path: Path, size: int) -> None:
    if size == 0:
        raise InvalidInput("empty upload: send the bundle (a .tar.gz) as the request body")
    with path.open("rb") as file:
        if file.read(2) != GZIP_MAGIC:
            raise InvalidInput("the bundle is not gzip-compressed: send a .tar.gz")


def sweep_staging(staging: Path, older_than_seconds: float, now: float) -> int:
    """Remove the uploads a stopped server left in ``staging`` (a failed upload removes
    its own file; one cut off by a crash or a kill cannot): those not written to for
    ``older_than_seconds`` before ``now``. An upload in progress writes to its file
    as it goes, so it is never that old. How many were removed."""
    removed = 0
    for path in staging.glob(f"{STAGED_PREFIX}*{STAGED_SUFFIX}"):
        try:
            if now - path.stat().st_mtime >= older_than_seconds:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # finished (moved into the store) or removed meanwhile
    return removed
