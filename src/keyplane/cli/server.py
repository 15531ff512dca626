"""``keyplane server``: migrate the database, then serve with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from keyplane.config import get_settings
from keyplane.db.migrate import upgrade


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Apply pending migrations and start the API server."""
    settings = get_settings()
    upgrade(settings.resolved_database_url)
    uvicorn.run(
        "keyplane.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
