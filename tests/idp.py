"""A real OpenID Connect provider for the SSO tests: the npm package oidc-provider.

``tests/idp/`` holds its package.json and server script. The first use installs the
package with npm into a cache dir (``$KEYPLANE_TEST_CACHE`` or ``~/.cache``), so a
fresh machine needs nothing by hand; later runs reuse it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

SOURCE = Path(__file__).parent / "idp"
CACHE = Path(os.environ.get("KEYPLANE_TEST_CACHE", Path.home() / ".cache")) / "keyplane-test-idp"
CLIENT_ID = "keyplane-test"
CLIENT_SECRET = "keyplane-test-secret-0123456789abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install() -> Path:
    """The provider's directory, installed once: test processes running at once (``pytest
    -n``) take turns under a file lock, and the script is replaced atomically, so no one
    starts node on a half-installed package or a half-written script."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to run the test identity provider")
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = (SOURCE / "package.json").read_text()
    installed = CACHE / "package.json"
    with (CACHE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (CACHE / "node_modules" / "oidc-provider").exists() or (
            not installed.exists() or installed.read_text() != wanted
        ):
            installed.write_text(wanted)
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=CACHE,
                check=True,
                timeout=600,
            )
        script = (SOURCE / "server.mjs").read_bytes()
        target = CACHE / "server.mjs"
        if not target.exists() or target.read_bytes() != script:
            fresh = CACHE / f".server.mjs.{os.getpid()}"
            fresh.write_bytes(script)
            fresh.replace(target)
    return CACHE


@contextmanager
def running_idp(*redirect_uris: str) -> Iterator[str]:
    """Start the provider on a free loopback port; yields its issuer URL."""
    home = install()
    port = free_port()
    process = subprocess.Popen(
        ["node", "server.mjs", str(port), CLIENT_ID, CLIENT_SECRET, *redirect_uris],
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:  # Node.js 20 earns a warning line before "ready"
            seen.append(line)
            if line.startswith("ready "):
                break
        else:
            raise AssertionError(f"the identity provider did not start: {''.join(seen)}")
        yield line.split()[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
INPUT = re.compile(r'<input[^>]*name="([^"]+)"(?:[^>]*value="([^"]*)")?[^>]*>')


def sign_in_at_idp(authorization_url: str, email: str, stop_at: str) -> str:
    """Act as the person at the provider's pages; returns the URL it sends back to us."""
    url = authorization_url
    with httpx.Client(timeout=20) as client:
        for _ in range(12):
            answer = client.get(url)
            while answer.is_redirect:
                url = urljoin(str(answer.url), answer.headers["location"])
                if url.startswith(stop_at):
                    return url
                answer = client.get(url)
            form = FORM.search(answer.text)
            page = re.sub(r"<style>.*?</style>", "", answer.text, flags=re.S)
            assert form, f"no form at the provider: {page[-800:]}"
            fields = {name: unescape(value) for name, value in INPUT.findall(form.group(2))}
            if "login" in fields:
                fields.update(login=email, password="anything")
            answer = client.post(urljoin(str(answer.url), unescape(form.group(1))), data=fields)
            assert answer.is_redirect, answer.text[:500]
            url = urljoin(str(answer.url), answer.headers["location"])
            if url.startswith(stop_at):
                return url
    raise AssertionError("the provider never sent the browser back")
