"""``keyplane admin notify``: mail the expiry notices that are due, and the leak
notices a report could not mail, from cron."""

from __future__ import annotations

import json

import typer

from keyplane.cli.operator import server_database
from keyplane.cli.output import Format, OutputOpt


def notify_command(output_format: OutputOpt = Format.TABLE) -> None:
    """Mail the token expiry notices that are due (14 and 3 days before), and leak
    notices not mailed yet; cron-safe.

    Run it from cron on any number of replicas at once: each notice is claimed by one
    run only. A notice whose mail could not be sent (here, or by the leak report that
    revoked the credential) is tried again by a run 10 minutes or more later; this run
    then exits 1.
    """
    from rich.console import Console

    from keyplane.config import get_settings
    from keyplane.db.session import make_sessionmaker
    from keyplane.hygiene.expiry import notify
    from keyplane.hygiene.mail import LEASE
    from keyplane.identity.mail import mail_sender

    settings = get_settings()
    with server_database() as engine:
        outcome = notify(make_sessionmaker(engine), settings, mail_sender(settings), None)
    failed = outcome.failed + outcome.leaks_failed
    if output_format is Format.JSON:
        typer.echo(
            json.dumps(
                {
                    "sent": outcome.sent,
                    "failed": outcome.failed,
                    "leakNoticesSent": outcome.leaks_sent,
                    "leakNoticesFailed": outcome.leaks_failed,
                }
            )
        )
    else:
        err = Console(stderr=True)
        err.print(f"{outcome.sent} expiry notice(s) sent")
        if outcome.leaks:
            err.print(f"{outcome.leaks_sent} leak notice(s) sent that a report could not")
        if failed:
            minutes = int(LEASE.total_seconds() // 60)
            err.print(
                f"[red]{failed} notice(s) not sent:[/] the mail server did not take "
                f"them; a run {minutes} minutes or more from now tries again"
            )
    if failed:
        raise typer.Exit(1)
