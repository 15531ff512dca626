"""Builds the ASGI application."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from keyplane import __version__
from keyplane.apikeys.deprecation import DeprecationHeadersMiddleware
from keyplane.apikeys.routes import migration_router as apikeys_migration_router
from keyplane.apikeys.routes import router as apikeys_router
from keyplane.audit.middleware import AuditMiddleware
from keyplane.audit.routes import router as audit_router
from keyplane.config import Settings, get_settings
from keyplane.deploys.routes import UPLOAD_PATHS, DeploysProcess
from keyplane.deploys.routes import router as deploys_router
from keyplane.federation.routes import router as workload_identities_router
from keyplane.http import errors, openapi
from keyplane.http.answers import AnswerCacheMiddleware
from keyplane.http.health import router as health_router
from keyplane.http.middleware import BodyLimitMiddleware, LingerMiddleware, RequestIdMiddleware
from keyplane.http.nul import NulRefusalMiddleware
from keyplane.http.process import Process
from keyplane.http.routing import APIRouter
from keyplane.hygiene.advice_routes import router as advice_router
from keyplane.hygiene.routes import HygieneProcess
from keyplane.hygiene.routes import router as hygiene_router
from keyplane.identity.invite_routes import router as invites_router
from keyplane.identity.oauth_routes import router as cli_login_router
from keyplane.identity.sso_routes import router as sso_router
from keyplane.oauth import errors as oauth_errors
from keyplane.oauth.context import ServerContext
from keyplane.oauth.fast_path import TokenEndpointFastPath
from keyplane.oauth.routes import router as oauth_router
from keyplane.ops.metrics import MetricsMiddleware, metrics_endpoint, worker_exited
from keyplane.runtime import KeyplaneApp, Runtime
from keyplane.tenancy.members_routes import router as members_router
from keyplane.tenancy.routes import router as tenancy_router
from keyplane.tenancy.routes import self_router
from keyplane.tokens.routes import router as tokens_router
from keyplane.variables.routes import router as variables_router
from keyplane.web import errors as web_errors
from keyplane.web.apikeys_routes import router as console_keys_router
from keyplane.web.console_routes import router as console_router
from keyplane.web.device_routes import router as device_router
from keyplane.web.invite_routes import router as invite_router
from keyplane.web.login_routes import router as login_router
from keyplane.web.members_routes import router as console_members_router
from keyplane.web.sso_routes import router as sso_web_router
from keyplane.web.static_routes import router as static_router
from keyplane.web.workload_routes import router as console_workload_router

ROUTERS: tuple[APIRouter, ...] = (
    health_router,
    self_router,
    tenancy_router,
    members_router,
    invites_router,
    tokens_router,
)
ROUTERS += (apikeys_router, apikeys_migration_router, oauth_router)
ROUTERS += (audit_router, deploys_router, variables_router)
ROUTERS += (login_router, static_router, console_router, sso_router, sso_web_router)
ROUTERS += (cli_login_router, device_router, invite_router, console_members_router)
ROUTERS += (console_keys_router, hygiene_router, workload_identities_router)
ROUTERS += (console_workload_router, advice_router)


def serves(runtime: Runtime) -> tuple[Process, ServerContext, DeploysProcess, HygieneProcess]:
    """The runtime as each protocol the routes read it through (the type checker
    verifies here that it provides all that each one names)."""
    return runtime, runtime, runtime, runtime


# The cyclic garbage collector's thresholds in a server process. By default it collects
# its youngest generation every 700 container allocations, and a request makes several
# thousand (ORM rows, pydantic models, ASGI messages), so each request paid for a few
# collections that found next to nothing: the refcounts free almost all of it. At
# 10,000 an uncached listing costs 14-22 % less CPU under load (docs/benchmarks.md);
# memory held by cycles awaiting collection grows by a few megabytes at most.
SERVER_GC_THRESHOLDS = (10_000, 20, 20)


def server_app() -> KeyplaneApp:
    """The app as ``keyplane server`` runs it, in each worker process."""
    gc.set_threshold(*SERVER_GC_THRESHOLDS)
    return create_app()


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> KeyplaneApp:
    settings = settings or get_settings()
    runtime = runtime or Runtime.create(settings)

    @asynccontextmanager
    async def lifespan(_: KeyplaneApp) -> AsyncIterator[None]:
        runtime.start()
        yield
        runtime.close()
        worker_exited(os.getpid())

    app = KeyplaneApp(
        title="keyplane",
        version=__version__,
        description="Identity and access for automation: organizations, workspaces, "
        "deployments and the API tokens that act on them.",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
        # Metrics are Prometheus (/metrics); FastAPI's OpenTelemetry hooks would only
        # ask, on every request, whether a provider was configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.runtime = runtime  # read by the routes as serves() types it
    errors.install(app)
    oauth_errors.install(app)
    web_errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    # Every route, for the Allow header of a 405 (keyplane.http.errors).
    app.state.routes = [route for router in ROUTERS for route in router.routes]
    if settings.answer_cache:
        routes = [route for router in ROUTERS for route in router.routes]
        app.add_middleware(AnswerCacheMiddleware, runtime=runtime, routes=routes)
    app.add_middleware(TokenEndpointFastPath, runtime=runtime)
    app.add_middleware(DeprecationHeadersMiddleware, settings=settings)
    app.add_middleware(NulRefusalMiddleware, largest_parsed=settings.max_body_bytes)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, exempt_pattern=UPLOAD_PATHS
    )
    app.add_middleware(LingerMiddleware)  # outside the body limit: it lingers for its 413
    # Inside the request id (it records it), outside the body limit (it records its 413).
    app.add_middleware(AuditMiddleware, sessions=runtime.sessions)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware, log_requests=settings.access_log)
    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)
    openapi.install(app)
    return app
