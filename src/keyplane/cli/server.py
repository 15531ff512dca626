"""``keyplane server``: migrate the database, then serve with uvicorn."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Annotated

import typer
import uvicorn

from keyplane.cli.operator import migrate_database
from keyplane.config import Settings, get_settings
from keyplane.ops.logs import log_config


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            help="Trust X-Forwarded-For/-Proto from the addresses in --forwarded-allow-ips "
            "(the load balancer), so rate limits and logs see the real client."
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            envvar="KEYPLANE_FORWARDED_ALLOW_IPS",
            show_envvar=True,
            help="Comma-separated proxy addresses or networks (or '*') whose forwarded "
            "headers are trusted; the client address that rate limits, the audit trail and "
            "allowedIpRanges see. Default: 127.0.0.1, or $FORWARDED_ALLOW_IPS.",
        ),
    ] = None,
) -> None:
    """Apply pending migrations and start the API server.

    Each worker process keeps its own credential cache, notifier listener and rate
    limiter; with several workers, metrics are aggregated through prometheus-client's
    multiprocess mode. SIGTERM stops accepting connections, lets requests in flight
    finish (up to 10 s), then closes the listener and the database pool.
    """
    settings = get_settings()
    migrate_database(settings.resolved_database_url)
    if workers > 1 and _without_notifier(settings):
        typer.echo(
            "warning: no cache-invalidation channel between workers (SQLite without "
            "KEYPLANE_REDIS_URL): a deleted or rotated token keeps working on the other "
            f"workers for up to {settings.auth_cache_ttl_seconds:g} s",
            err=True,
        )
    metrics_dir = _multiprocess_metrics_dir() if workers > 1 else None
    try:
        uvicorn.run(
            "keyplane.app:server_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            log_config=log_config(settings.log_format, settings.log_level),
            access_log=False,  # keyplane logs requests itself, with the route and request id
            timeout_graceful_shutdown=10,
            # A worker answers the supervisor's pings only once it has imported the
            # app; on a busy host that takes longer than uvicorn's 5 s default.
            timeout_worker_healthcheck=30,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _without_notifier(settings: Settings) -> bool:
    if settings.notifier == "none":
        return True
    on_postgres = settings.resolved_database_url.startswith("postgresql")
    return settings.notifier == "auto" and not on_postgres and not settings.redis_url


def _multiprocess_metrics_dir() -> str | None:
    """A fresh directory for the workers' metric files, unless the operator chose one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = tempfile.mkdtemp(prefix="keyplane-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path
