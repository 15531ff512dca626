"""Liveness and readiness."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from keyplane.http.deps import get_runtime
from keyplane.http.routing import APIRouter
from keyplane.oauth.signing_keys import published_keys
from keyplane.ops.health import scale_checks
from keyplane.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    runtime = get_runtime(request)
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # readiness reports; it never raises
        checks["database"] = f"unavailable: {type(error).__name__}"
    checks["signingKeys"] = _signing_keys(runtime)
    checks.update(scale_checks(runtime.limiter, runtime.notifier, runtime.authenticator.cache_ttl))
    # A degraded check (Redis away: local rate limits) keeps the replica in service.
    ready = all(value.startswith(("ok", "degraded")) for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


UNDECRYPTABLE = (
    "unavailable: this replica cannot decrypt the stored signing keys; set "
    "KEYPLANE_ENCRYPTION_KEYS to the keys every replica shares (without it, a replica "
    "uses its own encryption.key file in KEYPLANE_DATA_DIR)"
)


def _signing_keys(runtime: Runtime) -> str:
    """Whether this replica can sign: a replica given other encryption keys than the one
    that made the signing keys would answer every OAuth grant with an error."""
    keys = runtime.oauth.keys
    try:
        if keys.stale:  # else loaded, and so decrypted, within the last minutes
            with runtime.sessions() as db:
                if not any(key.retired_at is None for key in published_keys(db)):
                    return "ok (none yet: the first grant makes one)"  # readiness writes nothing
            keys.load()
    except ValueError:  # SecretBox: wrong encryption key or damaged data
        return UNDECRYPTABLE
    except Exception as error:  # readiness reports; it never raises
        return f"unavailable: {type(error).__name__}"
    return "ok"
