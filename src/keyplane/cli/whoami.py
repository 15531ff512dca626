"""``keyplane whoami``: who the current credential is, and what it may do."""

from __future__ import annotations

from keyplane.cli import output
from keyplane.cli.context import Json, connect
from keyplane.cli.output import Column, Format, KeyOpt, OutputOpt, field, roles_text, when

KEY_KIND = "DEPLOYMENT_KEY"
CLAIMS_SHOWN = ("repository", "ref", "environment", "sub")
# What each credential that is exchanged for short access tokens does when one expires.
NOTES = {
    "key pair": "the access token is exchanged from the key and renewed before it expires; "
    "the key works until it, or its deployment, is deleted",
    "key's access token": "this is an access token exchanged from a deployment API key: it "
    "stops working when it expires and nothing renews it; set ASTRONOMER_KEY_ID and "
    "ASTRONOMER_KEY_SECRET instead to have the CLI exchange the key as needed",
    "workload identity": "the access token was exchanged for this job's own ID token and is "
    "exchanged again when it expires; no secret is stored anywhere",
}


def whoami(key: KeyOpt = None, output_format: OutputOpt = Format.TABLE) -> None:
    """Show the principal behind the current credential, its organization and roles."""
    from keyplane.cli.key_pair import KeyPairExchange

    with connect(organization_required=False) as session:
        me = {**session.me, "credentialSource": session.credential.source}
        identity = session.workload_identity
        from_key_pair = isinstance(session.credential.bearer, KeyPairExchange)
    exchanged = _exchanged(me, identity, from_key_pair)
    expiry: list[Column] = [("expires", when("expiresAt", "never"))]
    if exchanged == "key pair":
        # The key never expires; what /v1/self's expiresAt gives is the expiry of the
        # access token it was exchanged for, which the CLI renews by itself.
        me = {**me, "expiresAt": None, "accessTokenExpiresAt": me.get("expiresAt")}
        expiry = [
            ("expires", lambda _: "never (a deployment API key is permanent)"),
            ("access token", when("accessTokenExpiresAt")),
        ]
    elif exchanged is not None:
        expiry = [("access token expires", when("expiresAt"))]
    columns: list[Column] = [
        ("kind", field("kind")),
        ("name", field("name")),
        ("id", field("id")),
        ("organization", field("organizationId")),
        ("roles", roles_text),
        *expiry,
        *(_identity_columns(identity) if identity is not None else []),
        ("credential from", field("credentialSource")),
    ]
    output.emit_one(me, output_format, columns, key)
    if exchanged is not None and output_format is Format.TABLE and not key:
        output.note(NOTES[exchanged])


def _exchanged(me: Json, identity: Json | None, from_key_pair: bool) -> str | None:
    """Which of NOTES the credential is, None for a token used as it is."""
    if identity is not None:
        return "workload identity"
    if me["kind"] != KEY_KIND:
        return None
    # A deployment key's access token is a bearer like any other (ASTRO_API_TOKEN,
    # `login --token-login`); only the key pair itself is exchanged again.
    return "key pair" if from_key_pair else "key's access token"


def _identity_columns(identity: Json) -> list[Column]:
    """The identity, and the claims of the job's ID token that its conditions matched."""
    claims = identity.get("claims") or {}
    named: list[Column] = [
        ("workload identity", lambda _: f"{identity.get('name')} ({identity.get('id')})")
    ]
    return named + [
        ("subject" if claim == "sub" else claim, lambda _, c=claim: claims.get(c))
        for claim in CLAIMS_SHOWN
    ]
