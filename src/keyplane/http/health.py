"""Liveness and readiness."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from keyplane.http.deps import get_runtime
from keyplane.http.routing import APIRouter

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    checks = get_runtime(request).readiness()
    # A degraded check (Redis away: local rate limits) keeps the replica in service.
    ready = all(value.startswith(("ok", "degraded")) for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
