"""``keyplane admin deploys prune``: delete the bundles of deleted deployments, from cron."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli.apps import group
from keyplane.cli.operator import audited_unit, record, server_database

app = group("Deploy bundles in the store: prune those no deploy names.")


@app.command("prune")
def prune(
    older_than_hours: Annotated[
        float,
        typer.Option(
            "--older-than-hours", min=0.0, help="Keep bundles stored more recently than this."
        ),
    ] = 24.0,
) -> None:
    """Delete the stored bundles no deploy names any more (a deployment's go with it:
    they may hold secrets its code carried), if stored more than --older-than-hours ago,
    and the unfinished uploads a stopped server left, untouched for as long.

    Deleting a deployment deletes its deploy records at once; its bundles stay in the
    store until this runs. A bundle shared with a deploy of another deployment stays.
    """
    import time

    from keyplane.config import get_settings
    from keyplane.db.session import make_sessionmaker
    from keyplane.deploys.service import prune_bundles
    from keyplane.deploys.store import load_store
    from keyplane.deploys.upload import sweep_staging

    older_than, now = older_than_hours * 3600, time.time()
    with server_database() as engine:
        store = load_store(get_settings())
        pruned = prune_bundles(make_sessionmaker(engine), store, older_than, now)
    swept = sweep_staging(store.staging_dir, older_than, now)
    if pruned or swept:  # an hourly cron run that finds nothing leaves no event
        _record(pruned, swept, older_than_hours)
    typer.echo(f"pruned {len(pruned)} bundle(s) no deploy names")
    if swept:
        typer.echo(f"removed {swept} unfinished upload(s) a stopped server left")


def _record(pruned: list[str], swept: int, older_than_hours: float) -> None:
    """The prune, in no organization's log (the bundles' deployments are gone, and a
    bundle may have been any organization's): the operators see it."""
    details = {
        "bundles": len(pruned),
        "digests": [f"sha256:{digest}" for digest in pruned[:1000]],
        "unfinishedUploads": swept,
        "olderThanHours": older_than_hours,
    }
    with audited_unit() as db:
        record(db, "deploys.prune", None, "keyplane admin deploys prune", None, details)
