"""FastAPI dependencies: database session, current principal, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from keyplane.auth.authenticator import AddressRefused
from keyplane.auth.principal import Principal
from keyplane.db import unit
from keyplane.db.paging import MAX_LIMIT, MAX_OFFSET, PageParams
from keyplane.domain.credentials import hash_secret
from keyplane.domain.errors import NotAuthenticated
from keyplane.http.headers import bearer, header, scope_client_ip
from keyplane.http.process import Process, process_of
from keyplane.ops import metrics

# Set in the request state when a credential is refused: (SHA-256 of the value, the
# error); the audit trail records it (keyplane.audit.middleware).
REFUSED_CREDENTIAL = "refused_credential"
NO_CREDENTIALS = (
    "no credentials: send `Authorization: Bearer <token>` "
    "(the CLI reads ASTRO_API_TOKEN, or ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET)"
)


# Requests that only read (RFC 9110 §9.2.1: safe methods): their unit of work runs each
# statement in a transaction of its own, saving two round trips (keyplane.db.unit.reading).
READ_METHODS = frozenset({"GET", "HEAD"})


def get_runtime(request: Request) -> Process:
    runtime: Process = process_of(request)
    return runtime


def _unit_of_request(writes: bool | None) -> Callable[[Request], AsyncIterator[Session]]:
    """The dependency giving a request its unit of work (``writes=None``: by method)."""

    async def unit_of_request(request: Request) -> AsyncIterator[Session]:
        # A new Session does no I/O until first used (in the route's thread), so it is
        # made here; FastAPI would run a plain generator's start and end each in the
        # thread pool.
        runtime = get_runtime(request)
        writing = request.method not in READ_METHODS if writes is None else writes
        db = runtime.sessions() if writing else runtime.reading()
        slots = runtime.unit_slots()
        await slots.acquire_on_behalf_of(db)
        try:
            try:
                yield db
            except BaseException:
                await run_in_threadpool(_close, db, False)
                raise
            if db.in_transaction() or unit.queued(db):
                await run_in_threadpool(_close, db, True)
            else:  # committed in the endpoint's own trip to the pool (keyplane.http.routing)
                db.close()
        finally:
            slots.release_on_behalf_of(db)

    return unit_of_request


# The request's unit of work: committed once after the route returns and before the
# answer is sent, so a client that saw success can count on the change; rolled back if
# the route raised. Held in one of the runtime's unit slots (one per pooled connection)
# from open to close. A GET or HEAD only reads: its unit cannot write.
get_db = _unit_of_request(None)
# As get_db, writing whatever the method: for a GET that a protocol makes change state
# (an OpenID Connect redirect back with the sign-in's code).
get_writing_db = _unit_of_request(True)


def _close(db: Session, succeeded: bool) -> None:
    try:
        if succeeded:
            unit.commit(db)  # a read-only transaction's COMMIT costs what ROLLBACK did
        else:
            unit.discard(db)
    finally:
        db.close()


def client_ip(request: Request) -> str:
    return scope_client_ip(request.scope)


# current_principal runs on nearly every request, so it reads the raw ASGI scope rather
# than building Starlette's Headers/State/Address wrappers (a measurable part of the
# authenticated request's overhead, see bench/auth_overhead.py).


def bearer_value(scope: Scope) -> str:
    """The credential in ``Authorization: Bearer …``; raises NotAuthenticated."""
    authorization = header(scope, b"authorization")
    if not authorization:
        metrics.AUTH_FAILURES.labels(reason="missing").inc()
        raise NotAuthenticated(NO_CREDENTIALS)
    credential = bearer(authorization)
    if credential is None:
        metrics.AUTH_FAILURES.labels(reason="malformed_header").inc()
        raise NotAuthenticated("malformed Authorization header: expected `Bearer <token>`")
    return credential


async def current_principal(request: Request) -> Principal:
    scope = request.scope
    value = bearer_value(scope)
    runtime: Process = scope["app"].runtime
    try:
        principal = await runtime.authenticator.authenticate(value, client_ip(request))
    except NotAuthenticated as error:
        # The audit trail records it from here (keyplane.audit.middleware).
        scope.setdefault("state", {})[REFUSED_CREDENTIAL] = (hash_secret(value), error)
        raise
    except AddressRefused as error:
        # A valid credential from the wrong place: a write is recorded as its failure.
        scope.setdefault("state", {})["principal"] = error.principal
        raise
    scope.setdefault("state", {})["principal"] = principal
    return principal


async def page_params(
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    sorts: Annotated[list[str] | None, Query(description=SORTS)] = None,
) -> PageParams:
    # async, though it awaits nothing: FastAPI runs a plain def dependency in the
    # thread pool, which costs more than all the rest of a cached listing.
    return PageParams(offset=offset, limit=limit, sorts=tuple(s for s in sorts or () if s))


SORTS = (
    "`key:asc` or `key:desc` (`key` alone: ascending), repeated for more keys; the keys "
    "each list takes are named in its 400. An empty value (`sorts=`) is ignored."
)


async def no_store(response: Response) -> None:
    """For answers that hold a plaintext secret: no browser, proxy or cache keeps a copy
    (the rule of RFC 6749 §5.1 for token answers, applied to every such answer)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


# ``dependencies=[SHOWS_SECRET]`` on a route whose answer holds a token, key or secret.
SHOWS_SECRET = Depends(no_store)
DbSession = Annotated[Session, Depends(get_db, scope="function")]
WritingDbSession = Annotated[Session, Depends(get_writing_db, scope="function")]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Paging = Annotated[PageParams, Depends(page_params)]
