"""The token exchange grant (RFC 8693) for workload identities.

``POST /oauth/token`` with ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``,
``subject_token`` (the job's ID token), ``subject_token_type`` (``…:id_token`` or
``…:jwt``) and ``client_id`` (the identity's id; a public client, no secret). After
:mod:`keyplane.federation.verification` accepts the ID token, its ``jti`` is spent
(:mod:`keyplane.federation.replay`: a row whose primary key refuses a second exchange
of the same token, on any replica; exchanges at the same time share one commit), and
the answer (§2.2.1) is an RFC 9068 access token holding the identity's role. Refusals
count against the shared failure limit per client IP and identity.

:class:`Federation` holds what the grant keeps between requests; the assembly point
builds one and :meth:`Federation.install` registers it on the OAuth server.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from limits import RateLimitItemPerMinute
from starlette.concurrency import run_in_threadpool

from keyplane.audit.notes import detail, note
from keyplane.audit.recorder import SUCCESS, EventDraft
from keyplane.auth.principal import PrincipalKind
from keyplane.cache import Cache
from keyplane.db.unit import read_only
from keyplane.domain.ids import shown
from keyplane.federation.issuers import IssuerKeys
from keyplane.federation.records import (
    IdentityRecord,
    attested_claims,
    load_record,
    workload_principal,
)
from keyplane.federation.replay import Spend, SpentTokens
from keyplane.federation.verification import LEEWAY_SECONDS, verify
from keyplane.oauth.access_tokens import audience_of, roles_claim, sign_access_token
from keyplane.oauth.clients import PublicClients, presented_credentials
from keyplane.oauth.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    TemporarilyUnavailable,
    UnauthorizedClient,
)
from keyplane.oauth.token_endpoint import TokenRequest, TokenResponse, check_address

if TYPE_CHECKING:
    from keyplane.oauth.context import ServerContext
    from keyplane.oauth.server import OAuthServer

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
SUBJECT_TOKEN_TYPES = (
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:jwt",
)
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
WORKLOAD_USE = "workload_identity.use"
_RECORD_LIMIT = 100_000
FAILURES = "token-exchange-failure"  # the limiter's namespace


class Federation:
    def __init__(self, runtime: ServerContext) -> None:
        self._runtime = runtime  # its oauth server is read on use: it is being built now
        self.keys = IssuerKeys()
        self.records: Cache[str, IdentityRecord] = Cache(
            runtime.settings.auth_cache_ttl_seconds, _RECORD_LIMIT
        )
        self.failure_limit = RateLimitItemPerMinute(runtime.settings.auth_failure_limit_per_minute)
        self.spent = SpentTokens(runtime.engine)
        self._audited: dict[str, tuple[float, tuple[tuple[str, str], ...]]] = {}

    def install(self, server: OAuthServer) -> None:
        """Serve the exchange on ``server``: its grant, its clients and its subjects."""
        server.register_grant(GRANT_TYPE, self.grant)
        server.register_public_clients(PublicClients(self.is_identity, introspects_own=True))
        server.register_subject_kind(PrincipalKind.WORKLOAD_IDENTITY.value, workload_principal)
        self._runtime.caches.append(self.records)

    async def record(self, identity_id: str) -> IdentityRecord | None:
        """The identity of this id (from the cache, else one read); None if none."""
        found = self.records.get(identity_id)
        if found is None:
            found = await self.records.fill(
                identity_id, lambda: run_in_threadpool(self._load, identity_id)
            )
        return found

    def _load(self, identity_id: str) -> IdentityRecord | None:
        with read_only(self._runtime.sessions) as db:
            return load_record(db, identity_id)

    async def is_identity(self, client_id: str) -> bool:
        return len(client_id) <= 32 and await self.record(client_id) is not None

    async def grant(self, request: TokenRequest) -> TokenResponse:
        """RFC 8693 §2.1-2.2; refusals per §2.2.2 (RFC 6749 §5.2 error codes)."""
        client_id = request.form.get("client_id", "")
        try:
            return await self._exchange(request)
        except (InvalidGrant, InvalidClient, InvalidRequest) as refusal:
            self._count_failure(request, client_id[:32])
            refused = {"workloadIdentityId": client_id[:32], "refusal": refusal.description}
            detail(request.http, refused)
            raise

    async def _exchange(self, request: TokenRequest) -> TokenResponse:
        token = _subject_token(request)
        record = await self._client(request)
        runtime = request.runtime
        claims = await verify(token, record, self.keys, runtime.settings)
        # After the ID token is verified, so that a refusal tells only its holder of the
        # list; before it is spent, so that it can be used from an allowed address.
        check_address(record.allowed_ranges, request.client_ip)
        await self._spend(record, claims)
        ring = runtime.oauth.keys
        keys = ring.current() if not ring.stale else await run_in_threadpool(ring.current)
        attested = attested_claims(claims)
        issued = sign_access_token(
            keys,
            runtime.settings,
            kind=PrincipalKind.WORKLOAD_IDENTITY.value,
            subject=record.id,
            client_id=record.id,
            organization_id=record.organization_id,
            roles=roles_claim(record.grants.bindings),
            lifetime=record.lifetime,
            extra_claims={"kp_wi": attested, "kp_rev": record.revision},
        )
        self._audit_use(request, record, claims, attested)
        body = {**issued.response(), "issued_token_type": ACCESS_TOKEN_TYPE}
        return TokenResponse(body)

    async def _client(self, request: TokenRequest) -> IdentityRecord:
        """The identity named by ``client_id``: a public client, with no secret (§2.1)."""
        authorization = request.http.headers.get("authorization")
        if not authorization and not request.form.get("client_id"):
            raise InvalidRequest("missing parameter: client_id (the workload identity's id)")
        presented = presented_credentials(request.form, authorization)
        if presented.secret is not None:
            raise UnauthorizedClient(
                "token exchange is for workload identities: send client_id=<identity id> "
                "and no client secret"
            )
        record = await self.record(presented.client_id)
        if record is None:
            raise InvalidClient(
                f"client_id: there is no workload identity {shown(presented.client_id)} "
                "(it may have been deleted)",
                basic=False,
            )
        return record

    async def _spend(self, record: IdentityRecord, claims: dict[str, Any]) -> None:
        """Spend the ID token's jti (InvalidGrant if it was spent) and note the
        identity's use (at most once per interval): :mod:`keyplane.federation.replay`."""
        key = hashlib.sha256(f"{claims['iss']}\n{claims['jti']}".encode()).hexdigest()
        expires = datetime.fromtimestamp(float(claims["exp"]) + LEEWAY_SECONDS, UTC)
        due = self._runtime.authenticator.last_used.due(record.id)
        if not await self.spent.spend(Spend(key, expires, record.id if due else None)):
            raise InvalidGrant(
                "subject_token refused (jti): this ID token was exchanged already; each is "
                "exchanged once (ask the issuer for a new one)"
            )

    def _count_failure(self, request: TokenRequest, client_id: str) -> None:
        """Refusals are limited per address and identity, after the check (as for client
        secrets): a job with a valid token is never refused for others' failures."""
        limiter, limit = self._runtime.limiter, self.failure_limit
        for namespace, who in (("ip", request.client_ip), ("identity", client_id)):
            retry = limiter.retry_after(limit, FAILURES, namespace, who)
            if retry is not None:
                raise TemporarilyUnavailable(
                    f"too many refused token exchanges from this {namespace}: try again in "
                    f"{retry} seconds",
                    retry_after=retry,
                )
        for namespace, who in (("ip", request.client_ip), ("identity", client_id)):
            limiter.hit(limit, FAILURES, namespace, who)

    def _audit_use(
        self,
        request: TokenRequest,
        record: IdentityRecord,
        claims: dict[str, Any],
        attested: dict[str, str],
    ) -> None:
        """Record the identity's use once per interval, and whenever the job it was used
        from differs (another repository, ref or environment than last recorded)."""
        where = tuple(sorted(attested.items()))
        last = self._audited.get(record.id)
        interval = self._runtime.settings.last_used_interval_seconds
        if last is not None and last[1] == where and time.monotonic() - last[0] < interval:
            return
        self._audited[record.id] = (time.monotonic(), where)
        draft = EventDraft(WORKLOAD_USE, SUCCESS, status_code=200).by(record.principal())
        draft.target_type, draft.target_id = "workload_identity", record.id
        job = {k: claims[k] for k in ("event_name", "workflow_ref", "run_id") if k in claims}
        draft.details = {"grant": "token-exchange", "claims": {**attested, **job}}
        note(request.http, draft)


def _subject_token(request: TokenRequest) -> str:
    """The ``subject_token`` after the request's other parameters are checked (§2.1)."""
    token, token_type = request.require("subject_token", "subject_token_type")
    if token_type not in SUBJECT_TOKEN_TYPES:
        raise InvalidRequest(f"subject_token_type must be one of {', '.join(SUBJECT_TOKEN_TYPES)}")
    if request.form.get("actor_token") or request.form.get("actor_token_type"):
        raise InvalidRequest("actor_token: delegation is not supported, send the ID token alone")
    wanted = request.form.get("requested_token_type")
    if wanted and wanted != ACCESS_TOKEN_TYPE:
        raise InvalidRequest(f"requested_token_type: only {ACCESS_TOKEN_TYPE} is issued")
    if request.form.get("scope", "").strip():
        raise InvalidScope("workload identities carry their one role and no scopes: omit scope")
    api = audience_of(request.runtime.settings)
    for name in ("resource", "audience"):
        if request.form.get(name) and request.form[name] != api:
            raise InvalidTarget(f"{name}: this server issues tokens only for {api}")
    return token
