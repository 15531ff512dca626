"""``keyplane admin keys``: the signing keys of access tokens (on the database directly)."""

from __future__ import annotations

import typer
from rich.console import Console

from keyplane.cli.apps import group
from keyplane.cli.operator import audited_unit, database_url, migrate_database, reading, record
from keyplane.config import Settings, get_settings
from keyplane.db.base import utcnow
from keyplane.oauth.models import SigningKey
from keyplane.oauth.signing_keys import published_keys, rotate_signing_keys, signing_key
from keyplane.secretbox import load_secret_box

app = group(help="Signing keys of access tokens.")
err = Console(stderr=True)


def longest_lifetime(settings: Settings) -> int:
    """The longest an access token any grant issues may live, in seconds: a retired key
    stays published that long after it stops signing, so that no token in flight is
    refused. Key-pair tokens live ``access_token_lifetime_seconds``, a CLI login's
    ``cli_access_token_seconds``, a workload identity's up to its schema's maximum."""
    from keyplane.federation.schemas import MAX_LIFETIME

    return max(
        settings.access_token_lifetime_seconds, settings.cli_access_token_seconds, MAX_LIFETIME
    )


@app.command()
def rotate() -> None:
    """Add a new signing key: published in the JWKS now, it signs two minutes later.

    Publishing it first lets relying parties that cache the JWKS know it before the
    first token it signs; old keys stay in the JWKS until every token they signed has
    expired, so a rotation never logs anyone out.
    """
    settings = get_settings()
    migrate_database(database_url())
    with audited_unit() as db:
        new = rotate_signing_keys(db, load_secret_box(settings), longest_lifetime(settings))
        keys = published_keys(db)
        # Server-wide: in no organization's log, for the operators.
        record(db, "signing_key.rotate", None, "keyplane admin keys rotate",
               ("signing_key", new.kid), {"signsFrom": _switch(keys)})  # fmt: skip
    typer.echo(f"new signing key  {new.kid}  (published now, signs from {_switch(keys)})")
    for key in keys:
        if key.kid != new.kid and key.unpublish_at is not None:
            until = f"{key.unpublish_at:%Y-%m-%d %H:%M:%S} UTC"
            typer.echo(f"retired          {key.kid}  (published until {until})")


def _switch(keys: list[SigningKey]) -> str:
    """When the newest key starts signing: as the last pending retirement takes effect."""
    last = max((k.retired_at for k in keys if k.retired_at is not None), default=None)
    return "now" if last is None else f"{last:%Y-%m-%d %H:%M:%S} UTC"


@app.command("list")
def list_keys() -> None:
    """The published signing keys, newest first."""
    with reading() as db:
        keys = published_keys(db)
    if not keys:
        return
    signer = signing_key(keys, utcnow())
    for key in keys:
        if key.kid == signer.kid:
            state = "signing"
        elif key.retired_at is None:
            state = f"next, signs from {_switch(keys)}"
        else:
            state = f"retired, published until {key.unpublish_at:%Y-%m-%d %H:%M:%S} UTC"
        typer.echo(
            f"{key.kid}  {key.algorithm}  created {key.created_at:%Y-%m-%d %H:%M:%S} UTC  {state}"
        )
