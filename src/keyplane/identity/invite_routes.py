"""The invitation route of the API: membership plus a mailed link to set up a sign-in.

It lives in the identity area, which owns invitations and mail, and answers with the
tenancy area's member object: identity depends on tenancy, never the reverse.
"""

from __future__ import annotations

from fastapi import Request, Response

from keyplane.http.deps import CurrentPrincipal, DbSession, get_runtime
from keyplane.http.routing import APIRouter
from keyplane.identity import invitations
from keyplane.identity.mail import mail_sender
from keyplane.tenancy import members_schemas as schemas
from keyplane.tenancy.members_routes import user_out

router = APIRouter(prefix="/v1/organizations/{orgId}", tags=["members"])


@router.post(
    "/invites",
    response_model=schemas.UserOut,
    status_code=201,
    responses={
        200: {"description": "already invited and not yet joined: the invitation was re-sent"},
        503: {"description": "the invitation is stored but its mail was not sent: POST again"},
    },
)
def invite(
    orgId: str,
    body: schemas.InviteCreate,
    request: Request,
    response: Response,
    db: DbSession,
    principal: CurrentPrincipal,
) -> object:
    """Make the email a member, and mail them a single-use link to set up their sign-in.

    The mail goes out once the invitation is stored. If it cannot be sent, the answer
    is 503 and the invitation stays: POSTing the same invitation again re-sends it
    with a new link (200), as it does for any invitation not used yet.
    """
    runtime = get_runtime(request)
    key = runtime.secret_box.derive(invitations.LINK_KEY)
    sender = mail_sender(runtime.settings)
    invited = invitations.invite(db, principal, runtime.settings, key, sender, orgId, body)
    if invited.resent:
        response.status_code = 200
    return user_out(invited.member)
