"""``keyplane admin notify``: mail the expiry notices that are due, from cron."""

from __future__ import annotations

import json

import typer

from keyplane.cli.output import Format, OutputOpt


def notify_command(output_format: OutputOpt = Format.TABLE) -> None:
    """Mail the token expiry notices that are due (14 and 3 days before); cron-safe.

    Run it from cron on any number of replicas at once: each notice is claimed by one
    run only. A notice whose mail could not be sent is tried again by a run 10 minutes
    or more later; this run then exits 1.
    """
    from rich.console import Console

    from keyplane.config import get_settings
    from keyplane.db.session import make_engine, make_sessionmaker
    from keyplane.hygiene.expiry import LEASE, notify
    from keyplane.identity.mail import mail_sender

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        outcome = notify(make_sessionmaker(engine), settings, mail_sender(settings), None)
    finally:
        engine.dispose()
    if output_format is Format.JSON:
        typer.echo(json.dumps({"sent": outcome.sent, "failed": outcome.failed}))
    else:
        err = Console(stderr=True)
        err.print(f"{outcome.sent} expiry notice(s) sent")
        if outcome.failed:
            minutes = int(LEASE.total_seconds() // 60)
            err.print(
                f"[red]{outcome.failed} notice(s) not sent:[/] the mail server did not take "
                f"them; a run {minutes} minutes or more from now tries again"
            )
    if outcome.failed:
        raise typer.Exit(1)
