"""The device authorization endpoint of the CLI login (RFC 8628 §3.1).

The login's grants, client and metadata are registered on the authorization server
by ``keyplane.identity.login_grants``; this router serves the one endpoint of the
login that is not the token endpoint.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from keyplane.http.routing import APIRouter
from keyplane.identity import cli_tokens, device
from keyplane.identity.login_grants import in_unit
from keyplane.oauth.context import server_context
from keyplane.oauth.errors import InvalidClient, oauth_response
from keyplane.oauth.token_endpoint import TokenRequest

router = APIRouter(tags=["oauth"])


@router.post("/oauth/device/code")
async def device_authorization(request: Request) -> Response:
    """RFC 8628 §3.1-3.2: start a device flow (public client ``keyplane-cli``)."""
    runtime = server_context(request)
    call = await TokenRequest.of(request, runtime)
    if call.form.get("client_id") != cli_tokens.CLI_CLIENT_ID:
        # §3.1 authenticates the client as the token endpoint does (RFC 6749 §5.2).
        raise InvalidClient(
            f"unknown client: the device flow is for client_id={cli_tokens.CLI_CLIENT_ID}",
            basic=True,
        )
    body = await run_in_threadpool(
        in_unit,
        runtime,
        lambda db: device.start(db, runtime, cli_tokens.CLI_CLIENT_ID, call.client_ip),
    )
    return oauth_response(body, 200)
