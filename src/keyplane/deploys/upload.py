"""Receiving a bundle: streamed to a staging file while hashed and counted, then read
through once as the runtime will unpack it.

Never more than one chunk is in memory. Whatever goes wrong (too large, client
gone, not a gzip stream, digest mismatch), the staging file is removed before the
error leaves, so a broken upload leaves nothing behind. A bundle is stored only when
it is a whole tar.gz (gzip's own checksum and length hold) whose every member the
standard library's ``data`` extraction filter accepts (PEP 706: no absolute path, no
``..`` out of the folder, no link out of it, no device file), so a damaged or unsafe
bundle is refused at deploy, naming the member, rather than failing on the runtime.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import tempfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import ClientDisconnect

from keyplane.config import Settings
from keyplane.domain.errors import DomainError, InvalidInput

GZIP_MAGIC = b"\x1f\x8b"


class PayloadTooLarge(DomainError):
    status_code = 413


class UploadInterrupted(DomainError):
    """The client went away before the whole bundle arrived."""

    status_code = 400


@dataclass(frozen=True)
class Limits:
    """How large a bundle may be as sent, and what it may unpack to."""

    size: int  # bytes as sent (KEYPLANE_DEPLOY_MAX_BYTES)
    files: int  # members (KEYPLANE_DEPLOY_MAX_FILES)
    unpacked: int  # the sum of the members' sizes (KEYPLANE_DEPLOY_MAX_UNPACKED_BYTES)

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.deploy_max_bytes,
            settings.deploy_max_files,
            settings.deploy_max_unpacked_bytes,
        )


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


_UNSAFE = {
    tarfile.AbsolutePathError: "has an absolute path",
    tarfile.OutsideDestinationError: "would be unpacked outside the project folder",
    tarfile.AbsoluteLinkError: "is a link to an absolute path",
    tarfile.LinkOutsideDestinationError: "is a link to outside the project folder",
    tarfile.SpecialFileError: "is a device, a FIFO or another special file",
}


def check_bundle(path: Path, limits: Limits) -> None:
    """InvalidInput, naming the member and why, unless the tar.gz at ``path`` is whole
    and every member is safe to unpack (see the module); PayloadTooLarge past
    ``limits``, before the data past them is read."""
    members = unpacked = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                members, unpacked = members + 1, unpacked + member.size
                if members > limits.files or unpacked > limits.unpacked:
                    raise _unpacks_too_large(limits)
                why = _unsafe(member, path.parent)
                if why is not None:
                    raise InvalidInput(
                        f"the bundle's member {member.name!r} {why}: bundle the project "
                        "folder only; nothing was stored"
                    )
            # Read past the end of the archive, so that gzip checks its CRC and length.
            while tar.fileobj is not None and tar.fileobj.read(1 << 20):
                pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise InvalidInput(
            f"the bundle is not a whole tar.gz ({_reason(error)}): pack the project "
            "folder again (`keyplane deploy` does); nothing was stored"
        ) from None


def _unpacks_too_large(limits: Limits) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the bundle unpacks to more than {limits.files} files or {limits.unpacked} bytes "
        "(KEYPLANE_DEPLOY_MAX_FILES, KEYPLANE_DEPLOY_MAX_UNPACKED_BYTES): list what the "
        "runtime does not need in .keyplaneignore; nothing was stored"
    )


def _unsafe(member: tarfile.TarInfo, folder: Path) -> str | None:
    """Why ``member`` is unsafe to unpack into a folder, or None. The data filter would
    unpack an absolute name below the folder; a runtime that unpacks otherwise would
    not, and no packed project folder has one, so it is refused too."""
    if member.name.startswith("/"):
        return _UNSAFE[tarfile.AbsolutePathError]
    try:
        tarfile.data_filter(member, str(folder))
    except tarfile.FilterError as unsafe:
        return next((w for k, w in _UNSAFE.items() if isinstance(unsafe, k)), "is not safe")
    return None


def _reason(error: Exception) -> str:
    """What is wrong with the bytes, in a few words (gzip's own messages hold sums)."""
    text = str(error)
    if isinstance(error, EOFError):
        return "it ends early"
    if isinstance(error, zlib.error):
        return "its compressed data is damaged"
    if isinstance(error, gzip.BadGzipFile):
        return "its checksum does not match" if "CRC" in text else "bytes follow its end"
    return text.split(":")[0] or "it is not a tar archive"


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
