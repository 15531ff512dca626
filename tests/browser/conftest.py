"""A real keyplane server (uvicorn in a thread) and one headless Chromium per module.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright; ``.ci/run``
installs it when missing. Without it these tests are skipped, saying why.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.db.migrate import upgrade
from keyplane.db.unit import unit_of_work
from keyplane.identity.accounts import set_password
from keyplane.runtime import Runtime
from keyplane.tenancy.bootstrap import init_organization

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
# The README's screenshots are refreshed on request only, so that a test run leaves the
# tree clean: KEYPLANE_SCREENSHOTS_DIR=docs/screenshots make test
SCREENSHOTS = Path(
    os.environ.get("KEYPLANE_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / "keyplane-screenshots"
)
PASSWORD = "plum vestibule 1987 kettle"
OWNER = "owner@acme.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    url: str
    runtime: Runtime
    org_id: str
    owner_token: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("browser-site")
    port = free_port()
    url = f"http://localhost:{port}"
    database = f"sqlite:///{data / 'keyplane.db'}"
    upgrade(database)
    settings = Settings(
        database_url=database, data_dir=data, public_url=url,
        password_hash_memory_kib=8192, password_hash_time_cost=2,
        sso_allow_private_networks=True,  # the test identity provider is on 127.0.0.1
    )  # fmt: skip
    runtime = Runtime.create(settings)
    with unit_of_work(runtime.sessions) as db:
        boot = init_organization(db, "acme", OWNER)
    with unit_of_work(runtime.sessions) as db:
        set_password(db, settings, OWNER, PASSWORD)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, runtime), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "keyplane did not start"
    yield Site(url, runtime, boot.organization_id, boot.token)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, site: Site, email: str = OWNER, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
