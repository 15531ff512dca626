"""Liveness and readiness."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from keyplane.http.deps import get_runtime
from keyplane.http.routing import APIRouter
from keyplane.ops.health import scale_checks

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
    checks.update(scale_checks(runtime.limiter, runtime.notifier, runtime.authenticator.cache_ttl))
    # A degraded check (Redis away: local rate limits) keeps the replica in service.
    ready = all(value.startswith(("ok", "degraded")) for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
