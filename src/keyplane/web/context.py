"""What the pages of one app share: templates, password hasher, login guard, CSRF key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from keyplane.config import Settings
from keyplane.http.deps import get_runtime
from keyplane.http.process import Process
from keyplane.identity.guard import LoginGuard
from keyplane.identity.passwords import Passwords, hasher_for

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class Web:
    settings: Settings
    runtime: Process
    templates: Jinja2Templates
    passwords: Passwords
    guard: LoginGuard
    csrf_key: bytes
    signing_key: bytes


def web_of(request: Request) -> Web:
    """The app's :class:`Web`, made on first use (one per app, so one per test app)."""
    web: Web | None = getattr(request.app.state, "web", None)
    if web is None:
        runtime = get_runtime(request)
        settings = runtime.settings
        web = Web(
            settings=settings,
            runtime=runtime,
            templates=Jinja2Templates(directory=str(TEMPLATES)),
            passwords=Passwords(hasher_for(settings)),
            guard=LoginGuard(
                runtime.limiter,
                settings.login_failures_per_account,
                settings.login_failures_per_ip,
                settings.login_failures_per_account_anywhere,
            ),
            csrf_key=runtime.secret_box.derive("keyplane csrf v1"),
            signing_key=runtime.secret_box.derive("keyplane links v1"),
        )
        request.app.state.web = web
    return web
