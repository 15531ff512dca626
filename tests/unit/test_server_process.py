"""What ``keyplane server`` sets up in each worker process before it serves."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from keyplane import app as app_module
from keyplane.cli import server
from keyplane.config import get_settings


@pytest.fixture
def own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("KEYPLANE_DATABASE_URL", "KEYPLANE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEYPLANE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_server_serves_the_app_made_for_a_server_process(own_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ran: dict[str, Any] = {}
    monkeypatch.setattr(
        server.uvicorn, "run", lambda app, **options: ran.update(app=app, **options)
    )
    server.serve(host="127.0.0.1", port=8080, workers=1, forwarded_allow_ips=None)
    assert ran["app"] == "keyplane.app:server_app" and ran["factory"] is True


def test_a_server_process_collects_garbage_less_often(own_settings) -> None:  # type: ignore[no-untyped-def]
    before = gc.get_threshold()
    try:
        made = app_module.server_app()
        assert gc.get_threshold() == app_module.SERVER_GC_THRESHOLDS
        assert gc.get_threshold()[0] > before[0]
        made.runtime.close()
    finally:
        gc.set_threshold(*before)
