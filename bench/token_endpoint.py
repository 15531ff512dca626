"""Client-credentials grants per second: keyplane vs the npm ``oidc-provider`` peer.

Both servers run on this machine in the same run, one process each, and face the same
load generator: a bounded-time loop of keep-alive HTTP/1.1 connections over loopback,
each sending ``POST /token`` with HTTP Basic client authentication and reading the
answer. Both sign an ES256 RFC 9068 access token per grant. The peer is set up from
``$KEYPLANE_PEER_DIR``, or else ``shared/peers/oidc-provider`` beside the repository
(``../shared`` from its root), with ``npm install`` into a cache dir on first use.

    python -m bench.token_endpoint [--seconds 15] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPOSITORY = Path(__file__).resolve().parent.parent
PEER_SOURCE = Path(
    os.environ.get("KEYPLANE_PEER_DIR", REPOSITORY.parent / "shared" / "peers" / "oidc-provider")
)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keyplane-bench"
PEER_CLIENT = "bench-client"
PEER_SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server at {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not start within {STARTUP_TIMEOUT}s")


@contextmanager
def running(
    command: list[str], env: dict[str, str], probe: str
) -> Iterator[subprocess.Popen[bytes]]:
    """The server process, once ``probe`` answers; its log's tail is printed if it does not."""
    # A file, not a pipe: nobody reads the server's log while it runs.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_until_up(probe, process)
            except RuntimeError:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace")[-4000:])
                raise
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


# -- keyplane ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keyplane:
    """A running ``keyplane server`` and its organization's owner."""

    port: int
    url: str
    pid: int
    org_id: str
    owner_token: str


@contextmanager
def keyplane_with_owner(
    home: str, database_url: str | None = None, **settings: str
) -> Iterator[Keyplane]:
    """``keyplane server`` with its data in ``home`` (SQLite there unless ``database_url``),
    initialised with one organization; ``settings`` are more ``KEYPLANE_*`` variables."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KEYPLANE_DATA_DIR": home,
        "KEYPLANE_DATABASE_URL": database_url or f"sqlite:///{home}/keyplane.db",
        "KEYPLANE_PUBLIC_URL": url,
        # The peer writes no line per request; neither does keyplane here.
        "KEYPLANE_ACCESS_LOG": "false",
        **settings,
    }
    keyplane = [sys.executable, "-m", "keyplane"]
    init = subprocess.run(
        [*keyplane, "admin", "init", "--organization", "bench", "--email", "b@x.example",
         "--output", "json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    owner = json.loads(init.stdout)
    serve = [*keyplane, "server", "--host", "127.0.0.1", "--port", str(port)]
    with running(serve, env, f"{url}/healthz") as process:
        yield Keyplane(port, url, process.pid, owner["organizationId"], owner["token"])


@contextmanager
def keyplane_server() -> Iterator[tuple[int, str, str]]:
    """A ``keyplane server`` on SQLite in a temp dir, with one deployment API key."""
    with (
        tempfile.TemporaryDirectory(prefix="kp-bench-") as home,
        keyplane_with_owner(home) as server,
    ):
        key_id, secret = make_key(server.url, server.org_id, server.owner_token)
        yield server.port, key_id, secret


def make_key(url: str, org_id: str, token: str) -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{url}/v1/organizations/{org_id}"
    with httpx.Client(headers=headers, timeout=30) as http:
        ws = http.post(f"{base}/workspaces", json={"name": "bench"}).raise_for_status().json()
        dep = http.post(
            f"{base}/deployments", json={"name": "bench", "workspaceId": ws["id"]}
        ).raise_for_status()
        key = http.post(
            f"{base}/deployments/{dep.json()['id']}/api-keys", json={"name": "bench"}
        ).raise_for_status()
    return str(key.json()["id"]), str(key.json()["secret"])


# -- the peer ------------------------------------------------------------------------------


def peer_dir() -> Path:
    """The peer with its node_modules, installed once into the cache dir."""
    target = CACHE / "oidc-provider"
    manifest = (PEER_SOURCE / "package.json").read_text()
    installed = target / "node_modules" / "oidc-provider"
    if not installed.exists() or (target / "package.json").read_text() != manifest:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "server.mjs"):
            shutil.copy(PEER_SOURCE / name, target / name)
        print("installing the oidc-provider peer (npm install)...", file=sys.stderr)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    shutil.copy(PEER_SOURCE / "server.mjs", target / "server.mjs")
    return target


@contextmanager
def peer_server() -> Iterator[int]:
    directory = peer_dir()
    port = free_port()
    command = ["node", str(directory / "server.mjs"), str(port), PEER_CLIENT, PEER_SECRET]
    env = {**os.environ, "NODE_ENV": "production"}
    with running(command, env, f"http://127.0.0.1:{port}/.well-known/openid-configuration"):
        yield port


# -- the load generator --------------------------------------------------------------------


def token_request(port: int, path: str, client_id: str, secret: str) -> bytes:
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    body = b"grant_type=client_credentials"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Basic {credentials}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    return status, await reader.readexactly(length)


async def connection(
    port: int, request: bytes, stop: float, counts: dict[str, int], first: list[bytes]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop:
            writer.write(request)
            status, body = await read_answer(reader)
            if status == 200:
                counts["ok"] += 1
                if not first:
                    first.append(body)
            else:
                counts["failed"] += 1
    finally:
        writer.close()


async def load(port: int, request: bytes, seconds: float, connections: int) -> dict[str, Any]:
    counts = {"ok": 0, "failed": 0}
    first: list[bytes] = []
    start = time.monotonic()
    stop = start + seconds
    await asyncio.gather(
        *(connection(port, request, stop, counts, first) for _ in range(connections))
    )
    elapsed = time.monotonic() - start
    if not first or "access_token" not in json.loads(first[0]):
        raise RuntimeError(f"no access token from port {port}: {counts}")
    return {**counts, "seconds": round(elapsed, 2), "per_second": counts["ok"] / elapsed}


def measure(port: int, request: bytes, seconds: float, connections: int) -> dict[str, Any]:
    return asyncio.run(load(port, request, seconds, connections))


# -- main ----------------------------------------------------------------------------------


def run(seconds: float = 10.0, connections: int = 32, rounds: int = 3) -> dict[str, Any]:
    """Both servers up at once; measured in alternating rounds, so that a change in the
    machine's background load hits both alike. Reports each side's median round."""
    per_round = seconds / rounds
    with keyplane_server() as (kp_port, key_id, secret), peer_server() as peer_port:
        ours_request = token_request(kp_port, "/oauth/token", key_id, secret)
        peer_request = token_request(peer_port, "/token", PEER_CLIENT, PEER_SECRET)
        for port, request in ((kp_port, ours_request), (peer_port, peer_request)):
            measure(port, request, min(2.0, per_round), connections)  # warm up
        ours, peer = [], []
        for _ in range(rounds):
            ours.append(measure(kp_port, ours_request, per_round, connections))
            peer.append(measure(peer_port, peer_request, per_round, connections))
    ours_median, peer_median = _median(ours), _median(peer)
    return {
        "name": "token_endpoint",
        "what": "client_credentials grants per second, one server process each, ES256 at+jwt",
        "connections": connections,
        "rounds": rounds,
        "keyplane": ours_median,
        "oidc_provider": peer_median,
        "keyplane_rounds": [round(r["per_second"]) for r in ours],
        "oidc_provider_rounds": [round(r["per_second"]) for r in peer],
        "ratio": round(ours_median["per_second"] / peer_median["per_second"], 3),
        "target": 1.0,
    }


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(results, key=lambda r: r["per_second"])[len(results) // 2]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per server, all rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv if argv is not None else [])
    result = run(args.seconds, args.connections, args.rounds)
    ours, peer = result["keyplane"], result["oidc_provider"]
    print(
        f"token endpoint (client_credentials): keyplane {ours['per_second']:.0f}/s, "
        f"oidc-provider {peer['per_second']:.0f}/s, ratio {result['ratio']:.2f}x "
        f"(target >= 1.0x; median of {result['rounds']} alternating rounds, "
        f"{result['connections']} connections)"
    )
    print(f"  rounds: keyplane {result['keyplane_rounds']}, peer {result['oidc_provider_rounds']}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
