"""The Python SDK for the keyplane HTTP API (DESIGN §4); the CLI talks to the server only here.

Methods send one request (or walk the pages of a list) and return the decoded JSON.
Nothing is printed. Every error answer raises :class:`ApiError`; a server that cannot
be reached raises :class:`ServerUnreachable`. The HTTP itself is
:mod:`keyplane.transport` (the standard library's).
"""

from __future__ import annotations

import base64
import json as jsonlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO
from urllib.parse import quote, quote_plus, urlencode

from keyplane.domain.roles import Role
from keyplane.transport import (
    CA_BUNDLE_VAR,
    TIMEOUT,
    Headers,
    Response,
    ServerUnreachable,
    iter_body,
    iter_lines,
    post_form,
    send,
    unreachable_error,
)

__all__ = [
    "CA_BUNDLE_VAR",
    "ApiError",
    "EmptySegment",
    "KeyplaneClient",
    "ServerUnreachable",
    "api_path",
    "client_credentials_grant",
    "post_form",
    "send",
    "token_request",
]

Json = dict[str, Any]
PAGE_LIMIT = 1000  # the API's maximum page size


class ApiError(Exception):
    """The server answered with an error body ``{message, requestId, statusCode, fieldErrors?}``.

    ``body`` is the decoded error body (empty when it was not JSON), for fields such
    as a 403's ``missingPermission``.
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        request_id: str = "",
        field_errors: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        *,
        from_keyplane: bool = True,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.request_id = request_id
        self.field_errors = dict(field_errors or {})
        self.body = dict(body or {})
        # False when the answer was not keyplane's (an HTML page, another API): the URL
        # is probably not a keyplane server.
        self.from_keyplane = from_keyplane


class EmptySegment(ValueError):
    """An id or key that would go into a request path is empty (an unset variable in a
    script, often): nothing is sent."""


class ExportIncomplete(Exception):
    """An audit export ended without its closing line: ``received`` events came, not all."""

    def __init__(self, received: int, reason: str) -> None:
        super().__init__(f"{reason} after {received} event(s)")
        self.received = received
        self.reason = reason


# The last line of a complete export: ``{"exportComplete": true, "count": N}``.
EXPORT_COMPLETE = '{"exportComplete"'


# A credential is a bearer value, or a callable that returns a fresh one per request
# (a short-lived access token obtained by exchange and cached by its provider). A
# callable may also have a ``renew() -> bool`` method: on a 401 the client calls it
# once and, if it answers True (a new value was obtained), sends the request again.
Credential = str | Callable[[], str] | None


class KeyplaneClient:
    """One keyplane server, one credential. Use as a context manager or call :meth:`close`."""

    def __init__(self, base_url: str, credential: Credential, *, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._credential = credential
        self._timeout = timeout
        # Headers of the last answer, for callers that warn about them (Deprecation, …).
        self.last_headers: Headers = Headers()

    def __enter__(self) -> KeyplaneClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: each request is its own connection (kept for the SDK's API)."""

    # -- transport ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Json | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer, or None for an empty one (204)."""
        body = None if json is None else jsonlib.dumps(json).encode()
        answer = self._send_once(method, path, body, params)
        if answer.status_code == 401 and self._renewed():
            answer = self._send_once(method, path, body, params)
        self.last_headers = answer.headers
        if answer.status_code >= 400:
            raise _api_error(answer)
        if answer.status_code == 204 or not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            raise ApiError(
                answer.status_code,
                f"HTTP {answer.status_code}: not a JSON answer ({answer.text.strip()[:80]!r})",
                from_keyplane=False,
            ) from None

    def _send_once(
        self, method: str, path: str, body: bytes | None, params: Mapping[str, Any] | None
    ) -> Response:
        headers = self._auth()
        if body is not None:
            headers["Content-Type"] = "application/json"
        return send(
            method, self._url(path, params), headers=headers, body=body, timeout=self._timeout
        )

    def _renewed(self) -> bool:
        """Ask a renewable credential for a new value (once per 401); True if it got one."""
        renew = getattr(self._credential, "renew", None)
        return bool(renew()) if callable(renew) else False

    def _url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        return f"{self.base_url}{path}" + (f"?{urlencode(query)}" if query else "")

    def _auth(self) -> dict[str, str]:
        value = self._credential() if callable(self._credential) else self._credential
        return {"Authorization": f"Bearer {value}"} if value else {}

    def _get(self, path: str, **params: Any) -> Json:
        result: Json = self.request("GET", path, params=params)
        return result

    def _post(self, path: str, body: Json) -> Json:
        result: Json = self.request("POST", path, json=body)
        return result

    def _delete(self, path: str) -> None:
        self.request("DELETE", path)

    def _all(self, path: str, key: str, **params: Any) -> list[Json]:
        """Every item of a list endpoint, walking its pages."""
        return list(self._iter(path, key, **params))

    # The SDK's other modules (keyplane.workload_identities) build on these four.
    get_json, post_json, delete_path, all_items = _get, _post, _delete, _all

    def _iter(self, path: str, key: str, **params: Any) -> Iterator[Json]:
        offset = 0
        while True:
            page = self._get(path, offset=offset, limit=PAGE_LIMIT, **params)
            items: list[Json] = page[key]
            yield from items
            offset += len(items)
            if not items or offset >= page["totalCount"]:
                return

    # -- the caller and organizations ----------------------------------------------------

    def get_self(self) -> Json:
        """``GET /v1/self``: kind, id, name, organizationId, roles, expiresAt."""
        return self._get("/v1/self")

    def list_organizations(self) -> list[Json]:
        return self._all("/v1/organizations", "organizations")

    def get_organization(self, org_id: str) -> Json:
        return self._get(_in(org_id))

    def update_organization(self, org_id: str, **changes: Any) -> Json:
        return self._post(_in(org_id), _present(changes))

    # -- workspaces ----------------------------------------------------------------------

    def list_workspaces(self, org_id: str) -> list[Json]:
        return self._all(_in(org_id, "/workspaces"), "workspaces")

    def create_workspace(self, org_id: str, name: str, description: str = "") -> Json:
        return self._post(_in(org_id, "/workspaces"), {"name": name, "description": description})

    def get_workspace(self, org_id: str, workspace_id: str) -> Json:
        return self._get(_in(org_id, "/workspaces/{}", workspace_id))

    def update_workspace(
        self,
        org_id: str,
        workspace_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Json:
        body = _present({"name": name, "description": description})
        return self._post(_in(org_id, "/workspaces/{}", workspace_id), body)

    def delete_workspace(self, org_id: str, workspace_id: str) -> None:
        self._delete(_in(org_id, "/workspaces/{}", workspace_id))

    # -- deployments ---------------------------------------------------------------------

    def list_deployments(self, org_id: str, workspace_id: str | None = None) -> list[Json]:
        return self._all(_in(org_id, "/deployments"), "deployments", workspaceId=workspace_id)

    def create_deployment(
        self, org_id: str, workspace_id: str, name: str, description: str = ""
    ) -> Json:
        body = {"workspaceId": workspace_id, "name": name, "description": description}
        return self._post(_in(org_id, "/deployments"), body)

    def get_deployment(self, org_id: str, deployment_id: str) -> Json:
        return self._get(_in(org_id, "/deployments/{}", deployment_id))

    def update_deployment(
        self,
        org_id: str,
        deployment_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        is_cicd_enforced: bool | None = None,
    ) -> Json:
        body = _present(
            {"name": name, "description": description, "isCicdEnforced": is_cicd_enforced}
        )
        return self._post(_in(org_id, "/deployments/{}", deployment_id), body)

    def delete_deployment(self, org_id: str, deployment_id: str) -> None:
        self._delete(_in(org_id, "/deployments/{}", deployment_id))

    # -- API tokens ----------------------------------------------------------------------

    def list_tokens(
        self,
        org_id: str,
        *,
        scope: str | None = None,
        workspace_id: str | None = None,
        deployment_id: str | None = None,
        expiring_within_days: int | None = None,
    ) -> list[Json]:
        return self._all(
            _in(org_id, "/tokens"),
            "tokens",
            scope=scope,
            workspaceId=workspace_id,
            deploymentId=deployment_id,
            expiringWithinDays=expiring_within_days,
        )

    def report_leak(self, value: str) -> Json:
        """``POST /v1/tokens/report``: the same answer whether or not ``value`` was live."""
        return self._post("/v1/tokens/report", {"token": value})

    def create_token(
        self,
        org_id: str,
        *,
        name: str,
        scope: str,
        role: str,
        entity_id: str | None = None,
        description: str = "",
        expiry_days: int | None = None,
        allowed_ip_ranges: list[str] | None = None,
    ) -> Json:
        """The new token object; its ``token`` field holds the value, shown this once."""
        body = _present(
            {
                "name": name,
                "description": description,
                "scope": scope,
                "entityId": entity_id,
                "role": role,
                "tokenExpiryPeriodInDays": expiry_days,
                "allowedIpRanges": allowed_ip_ranges,
            }
        )
        return self._post(_in(org_id, "/tokens"), body)

    def get_token(self, org_id: str, token_id: str) -> Json:
        return self._get(_in(org_id, "/tokens/{}", token_id))

    def token_advice(self, org_id: str, token_id: str, *, days: int | None = None) -> Json:
        """The permissions the token used in the last ``days`` (server default 90), the
        least role that covers them, and whether it is stale."""
        return self._get(_in(org_id, "/tokens/{}/advice", token_id), days=days)

    def update_token(
        self,
        org_id: str,
        token_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        allowed_ip_ranges: list[str] | None = None,
    ) -> Json:
        """``allowed_ip_ranges``: None leaves the list as it is, [] clears it."""
        body = _present(
            {"name": name, "description": description, "allowedIpRanges": allowed_ip_ranges}
        )
        return self._post(_in(org_id, "/tokens/{}", token_id), body)

    def replace_token_roles(self, org_id: str, token_id: str, roles: list[Json]) -> Json:
        """Replace all roles of a token; ``roles`` items are ``{entityType, entityId, role}``."""
        return self._post(_in(org_id, "/tokens/{}/roles", token_id), {"roles": roles})

    def rotate_token(self, org_id: str, token_id: str) -> Json:
        """The token object with its new value in ``token``; the old value stops working."""
        return self._post(_in(org_id, "/tokens/{}/rotate", token_id), {})

    def delete_token(self, org_id: str, token_id: str) -> None:
        self._delete(_in(org_id, "/tokens/{}", token_id))

    # -- deployment API keys (deprecated) ------------------------------------------------

    def list_api_keys(self, org_id: str, deployment_id: str) -> list[Json]:
        return self._all(_in(org_id, "/deployments/{}/api-keys", deployment_id), "apiKeys")

    def create_api_key(
        self, org_id: str, deployment_id: str, name: str, description: str = ""
    ) -> Json:
        """The new key; its ``secret`` is in this answer only."""
        body = {"name": name, "description": description}
        return self._post(_in(org_id, "/deployments/{}/api-keys", deployment_id), body)

    def delete_api_key(self, org_id: str, deployment_id: str, key_id: str) -> None:
        self._delete(_in(org_id, "/deployments/{}/api-keys/{}", deployment_id, key_id))

    def migrate_api_keys(
        self,
        org_id: str,
        *,
        dry_run: bool,
        workspace_id: str | None = None,
        deployment_id: str | None = None,
        key_ids: list[str] | None = None,
    ) -> Json:
        """``POST …/api-keys/migrate``: ``{dryRun, migrations}``, the plan on a dry run;
        otherwise the keys replaced by tokens, whose values are in this answer only."""
        body = _present(
            {
                "dryRun": dry_run,
                "workspaceId": workspace_id,
                "deploymentId": deployment_id,
                "keyIds": key_ids,
            }
        )
        return self._post(_in(org_id, "/api-keys/migrate"), body)

    # -- members ---------------------------------------------------------------------------

    def list_users(self, org_id: str) -> list[Json]:
        return self._all(_in(org_id, "/users"), "users")

    def get_user(self, org_id: str, user_id: str) -> Json:
        return self._get(_in(org_id, "/users/{}", user_id))

    def replace_user_roles(
        self,
        org_id: str,
        user_id: str,
        organization_role: str,
        workspace_roles: list[Json] | None = None,
        deployment_roles: list[Json] | None = None,
    ) -> Json:
        body = {
            "organizationRole": organization_role,
            "workspaceRoles": workspace_roles or [],
            "deploymentRoles": deployment_roles or [],
        }
        return self._post(_in(org_id, "/users/{}/roles", user_id), body)

    def remove_user(self, org_id: str, user_id: str) -> None:
        self._delete(_in(org_id, "/users/{}", user_id))

    def invite(self, org_id: str, email: str, role: str = Role.ORGANIZATION_MEMBER) -> Json:
        return self._post(_in(org_id, "/invites"), {"email": email, "role": role})

    def list_workspace_users(self, org_id: str, workspace_id: str) -> list[Json]:
        return self._all(_in(org_id, "/workspaces/{}/users", workspace_id), "users")

    def add_workspace_user(self, org_id: str, workspace_id: str, email: str, role: str) -> Json:
        return self._post(
            _in(org_id, "/workspaces/{}/users", workspace_id), {"email": email, "role": role}
        )

    def update_workspace_user(
        self, org_id: str, workspace_id: str, user_id: str, role: str
    ) -> Json:
        return self._post(
            _in(org_id, "/workspaces/{}/users/{}", workspace_id, user_id), {"role": role}
        )

    def remove_workspace_user(self, org_id: str, workspace_id: str, user_id: str) -> None:
        self._delete(_in(org_id, "/workspaces/{}/users/{}", workspace_id, user_id))

    # -- roles -------------------------------------------------------------------------------

    def list_roles(self, org_id: str) -> list[Json]:
        """The role catalogue: built-in and custom roles with their permissions."""
        roles: list[Json] = self._get(_in(org_id, "/roles"))["roles"]
        return roles

    def list_custom_roles(self, org_id: str) -> list[Json]:
        return self._all(_in(org_id, "/custom-roles"), "roles")

    def create_custom_role(
        self, org_id: str, name: str, permissions: list[str], description: str = ""
    ) -> Json:
        body = {"name": name, "description": description, "permissions": permissions}
        return self._post(_in(org_id, "/custom-roles"), body)

    def delete_custom_role(self, org_id: str, role_id: str) -> None:
        self._delete(_in(org_id, "/custom-roles/{}", role_id))

    # -- deploys, deployment variables, audit log ---------------------------------------

    def create_deploy(
        self,
        org_id: str,
        deployment_id: str,
        bundle: BinaryIO,
        size: int,
        *,
        description: str = "",
        sha256: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Json:
        """Upload a tar.gz bundle as a stream (never read whole); the deploy object."""

        def chunks() -> Iterator[bytes]:
            while block := bundle.read(UPLOAD_CHUNK):
                yield block
                if progress:
                    progress(len(block))

        headers = {
            **self._auth(),
            "Content-Type": "application/gzip",
            "Content-Length": str(size),
        }
        params = _present({"description": description or None, "sha256": sha256})
        path = _in(org_id, "/deployments/{}/deploys", deployment_id)
        # The socket timeout bounds each send and the wait for the answer, not the
        # whole upload: a large bundle on a slow link may take as long as it needs.
        answer = send(
            "POST", self._url(path, params), headers=headers, body=chunks(), timeout=self._timeout
        )
        self.last_headers = answer.headers
        if answer.status_code >= 400:
            raise _api_error(answer)
        result: Json = answer.json()
        return result

    def list_deploys(self, org_id: str, deployment_id: str, limit: int = 20) -> list[Json]:
        """The newest ``limit`` deploys of a deployment."""
        page = self._get(_in(org_id, "/deployments/{}/deploys", deployment_id), limit=limit)
        deploys: list[Json] = page["deploys"]
        return deploys

    def get_deploy(self, org_id: str, deployment_id: str, deploy_id: str) -> Json:
        return self._get(_in(org_id, "/deployments/{}/deploys/{}", deployment_id, deploy_id))

    def download_bundle(
        self, org_id: str, deployment_id: str, deploy_id: str, into: BinaryIO
    ) -> int:
        """Write the deploy's bundle into ``into``; the number of bytes written."""
        path = _in(org_id, "/deployments/{}/deploys/{}/bundle", deployment_id, deploy_id)
        answer = self._stream("GET", path, {})
        written = 0
        try:
            for block in iter_body(answer):
                into.write(block)
                written += len(block)
        except OSError as error:
            raise unreachable_error(self.base_url, error) from None
        return written

    def _stream(
        self, method: str, path: str, params: Mapping[str, Any], **headers: str
    ) -> Response:
        """An answer whose body is still to be read; an error answer raises ApiError."""
        answer = send(
            method,
            self._url(path, params),
            headers={**self._auth(), **headers},
            timeout=self._timeout,
            stream=True,
        )
        self.last_headers = answer.headers
        if answer.status_code >= 400:
            with answer._stream as body:
                answer.content = body.read()
            raise _api_error(answer)
        return answer

    def list_variables(self, org_id: str, deployment_id: str) -> list[Json]:
        return self._all(_in(org_id, "/deployments/{}/variables", deployment_id), "variables")

    def create_variable(
        self, org_id: str, deployment_id: str, key: str, value: str, is_secret: bool = False
    ) -> Json:
        body = {"key": key, "value": value, "isSecret": is_secret}
        return self._post(_in(org_id, "/deployments/{}/variables", deployment_id), body)

    def update_variable(
        self,
        org_id: str,
        deployment_id: str,
        key: str,
        *,
        value: str | None = None,
        is_secret: bool | None = None,
    ) -> Json:
        body = _present({"value": value, "isSecret": is_secret})
        return self._post(_in(org_id, "/deployments/{}/variables/{}", deployment_id, key), body)

    def delete_variable(self, org_id: str, deployment_id: str, key: str) -> None:
        self._delete(_in(org_id, "/deployments/{}/variables/{}", deployment_id, key))

    def list_audit_logs(self, org_id: str, limit: int = 50, **filters: Any) -> Json:
        """One page of audit events, newest first: ``{auditLogs, offset, limit, totalCount}``.

        Filters: ``since``, ``until`` (ISO 8601), ``actorId``, ``action`` (``token.*``
        for a prefix), ``targetId``.
        """
        return self._get(_in(org_id, "/audit-logs"), limit=limit, **filters)

    def export_audit_logs(self, org_id: str, **filters: Any) -> Iterator[str]:
        """Every matching event as JSON lines, oldest first, streamed as it arrives."""
        path = _in(org_id, "/audit-logs")
        from http.client import HTTPException  # loaded already by the request just sent

        answer = self._stream("GET", path, filters, Accept="application/x-ndjson")
        count = 0
        try:
            for line in iter_lines(answer):
                if line.startswith(EXPORT_COMPLETE):
                    if jsonlib.loads(line).get("count") != count:
                        raise ExportIncomplete(count, "the server counted another number")
                    return
                if line:
                    count += 1
                    yield line
        except (OSError, HTTPException) as error:
            raise ExportIncomplete(count, f"the stream broke ({type(error).__name__})") from None
        raise ExportIncomplete(count, "the stream ended before its last line")


UPLOAD_CHUNK = 256 * 1024


def client_credentials_grant(
    base_url: str, client_id: str, client_secret: str, *, timeout: float = TIMEOUT
) -> tuple[Json, Headers]:
    """Exchange a deployment API key at ``/oauth/token`` (RFC 6749 §4.4, HTTP Basic).

    Returns the token answer (``access_token``, ``expires_in``) and its headers. An
    OAuth error raises :class:`ApiError` (see :func:`token_request`).
    """
    basic = base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode())
    return token_request(
        base_url,
        {"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic.decode()}"},  # §2.3.1
        timeout=timeout,
    )


def token_request(
    base_url: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> tuple[Json, Headers]:
    """POST ``form`` to ``/oauth/token``; the token answer and its headers.

    An error answer (RFC 6749 §5.2) raises :class:`ApiError` whose message is
    ``<error>: <error_description>`` and whose ``body`` is the decoded answer.
    """
    answer = post_form(base_url, "/oauth/token", form, headers=headers, timeout=timeout)
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        if isinstance(body, dict) and "error" in body:
            message = f"{body['error']}: {body.get('error_description', '')}".rstrip(": ")
        else:
            message = f"HTTP {answer.status_code}: {answer.text.strip()[:200]}"
            body = None
        request_id = answer.headers.get("X-Request-Id", "")
        raise ApiError(answer.status_code, message, request_id, body=body)
    return body, answer.headers


def api_path(template: str, *segments: str) -> str:
    """``template`` with each ``{}`` replaced by a segment, percent-encoded whole.

    An id or a variable key is the user's text: a ``/``, ``?``, ``#``, ``%`` or space in
    it stays inside its own segment instead of changing the request (or making the URL
    unsendable), and ``.``/``..`` cannot climb out of it. An empty one would drop the
    segment and reach another route, so it is refused (:class:`EmptySegment`).
    """
    encoded = []
    for segment in segments:
        if not segment:
            raise EmptySegment("an id or key in the request is empty")
        text = quote(segment, safe="")
        encoded.append(text.replace(".", "%2E") if text in (".", "..") else text)
    return template.format(*encoded)


def _in(org_id: str, template: str = "", *segments: str) -> str:
    """A path inside one organization: ``_in(org, "/deployments/{}", dep)``."""
    return api_path("/v1/organizations/{}" + template, org_id, *segments)


def _present(fields: Mapping[str, Any]) -> Json:
    """The fields that were given (None means "leave unchanged" / "use the default")."""
    return {key: value for key, value in fields.items() if value is not None}


def _param(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def _api_error(answer: Response) -> ApiError:
    request_id = answer.headers.get("X-Request-Id", "")
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "message" not in body:
        text = " ".join(answer.text.split())[:120] or answer.reason_phrase
        return ApiError(
            answer.status_code,
            f"HTTP {answer.status_code}: {text}",
            request_id,
            from_keyplane=False,
        )
    return ApiError(
        answer.status_code,
        str(body["message"]),
        str(body.get("requestId") or request_id),
        body.get("fieldErrors") or None,
        body,
    )
