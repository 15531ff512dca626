"""Token exchange grants (RFC 8693, workload identities) per second against
client-credentials grants (deployment API keys), on one server process.

One ``keyplane server`` (SQLite in a temp dir, or ``--database-url``) lists a local
OIDC issuer (``tests/workload_issuer.py``, in a thread of this process, over http) in
``KEYPLANE_FEDERATION_ISSUERS``. One deployment has a deployment API key and a
workload identity (DEPLOYMENT_ADMIN, pinned to a repository id and a ref). The load
generator is :mod:`bench.token_endpoint`'s: keep-alive HTTP/1.1 connections over
loopback for a bounded time, each sending ``POST /oauth/token`` and reading the
answer; both grants sign an ES256 RFC 9068 access token. Rounds alternate between
the two grants, so a change in the machine's background load hits both alike; each
side's figure is its median round.

Every exchange needs an ID token of its own (a spent ``jti`` is refused), so each
round's ID tokens are minted (RS256, like GitHub's) and their requests rendered
before the round starts: during a round the generator only writes prepared bytes
and reads answers for either grant, and the ratio compares the two grants, not the
generator. The issuer's discovery document and JWKS are fetched by the server once,
during the warm-up. The figures also say how much CPU the server process and the
generator spent per grant, which a noisy machine disturbs less than the rates.

    python -m bench token_exchange
    python -m bench.token_exchange [--seconds 20] [--connections 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from tests.workload_issuer import REPOSITORY_ID, WorkloadIssuer, running_issuer

from bench._cluster import machine
from bench.token_endpoint import keyplane_with_owner, make_key, read_answer, token_request

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
TARGET = 0.8
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Setup:
    port: int
    pid: int
    issuer: WorkloadIssuer
    audience: str
    key_id: str
    secret: str
    identity_id: str


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def keyplane_server(database_url: str | None) -> Iterator[Setup]:
    """A ``keyplane server`` trusting a local issuer, a key and an identity for one deployment."""
    with (
        running_issuer() as issuer,
        tempfile.TemporaryDirectory(prefix="kp-bench-") as home,
        keyplane_with_owner(home, database_url, KEYPLANE_FEDERATION_ISSUERS=issuer.url) as server,
    ):
        org, token = server.org_id, server.owner_token
        key_id, secret = make_key(server.url, org, token)
        identity_id = make_identity(server.url, org, token, issuer.url)
        yield Setup(server.port, server.pid, issuer, server.url, key_id, secret, identity_id)


def make_identity(url: str, org_id: str, token: str, issuer: str) -> str:
    """A workload identity for the deployment ``make_key`` made (the org's only one)."""
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{url}/v1/organizations/{org_id}"
    with httpx.Client(headers=headers, timeout=30) as http:
        (deployment,) = http.get(f"{base}/deployments").raise_for_status().json()["deployments"]
        body = {
            "name": "bench",
            "issuer": issuer,
            "conditions": {"repository_id": REPOSITORY_ID, "ref": "refs/heads/main"},
            "scope": "DEPLOYMENT",
            "entityId": deployment["id"],
            "role": "DEPLOYMENT_ADMIN",
        }
        made = http.post(f"{base}/workload-identities", json=body).raise_for_status()
    return str(made.json()["id"])


def exchange_requests(setup: Setup, count: int) -> list[bytes]:
    """``count`` exchange requests, each with an ID token of its own (minted now)."""
    requests = []
    for _ in range(count):
        form = urlencode({
            "grant_type": GRANT,
            "subject_token": setup.issuer.mint(setup.audience),
            "subject_token_type": ID_TOKEN,
            "client_id": setup.identity_id,
        }).encode()  # fmt: skip
        head = (
            f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{setup.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(form)}\r\nConnection: keep-alive\r\n\r\n"
        )
        requests.append(head.encode() + form)
    return requests


# -- the load generator: token_endpoint's, with a request per grant -------------------------


class Requests:
    """What the connections send: the same bytes every time, or each prepared one once."""

    def __init__(self, same: bytes | None = None, each: list[bytes] | None = None) -> None:
        self._same, self._each, self._next = same, each or [], 0

    def take(self) -> bytes | None:
        if self._same is not None:
            return self._same
        if self._next >= len(self._each):
            return None  # used up: the round ends early, and says so
        self._next += 1
        return self._each[self._next - 1]


async def connection(
    port: int, requests: Requests, stop: float, counts: dict[str, int], first: list[bytes]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop and (request := requests.take()) is not None:
            writer.write(request)
            status, body = await read_answer(reader)
            if status == 200:
                counts["ok"] += 1
                if not first:
                    first.append(body)
            else:
                counts["failed"] += 1
                if counts["failed"] == 1:
                    print(f"   refused: {body[:300]!r}", file=sys.stderr)
    finally:
        writer.close()


async def load(
    setup: Setup, requests: Requests, seconds: float, connections: int
) -> dict[str, Any]:
    counts = {"ok": 0, "failed": 0}
    first: list[bytes] = []
    server_cpu, own_cpu = cpu_seconds(setup.pid), time.process_time()
    start = time.monotonic()
    await asyncio.gather(
        *(connection(setup.port, requests, start + seconds, counts, first)
          for _ in range(connections))
    )  # fmt: skip
    elapsed = time.monotonic() - start
    server_cpu, own_cpu = cpu_seconds(setup.pid) - server_cpu, time.process_time() - own_cpu
    if not first or "access_token" not in json.loads(first[0]):
        raise RuntimeError(f"no access token: {counts}")
    done = counts["ok"] + counts["failed"]
    return {
        **counts,
        "seconds": round(elapsed, 2),
        "per_second": counts["ok"] / elapsed,
        "used_up": elapsed < seconds * 0.95,
        "server_cpu_ms_per_grant": round(1000 * server_cpu / max(done, 1), 3),
        "generator_cpu_ms_per_grant": round(1000 * own_cpu / max(done, 1), 3),
    }


def measure(setup: Setup, requests: Requests, seconds: float, connections: int) -> dict[str, Any]:
    return asyncio.run(load(setup, requests, seconds, connections))


# -- main ----------------------------------------------------------------------------------


def run(
    seconds: float = 20.0,
    connections: int = 32,
    rounds: int = 5,
    database_url: str | None = None,
) -> dict[str, Any]:
    per_round = seconds / rounds
    figures: dict[str, Any] = {"machine": machine()}
    with keyplane_server(database_url) as setup:
        credentials = Requests(
            same=token_request(setup.port, "/oauth/token", setup.key_id, setup.secret)
        )
        # Warm up both (the exchange also fetches the issuer's discovery and JWKS once),
        # and learn how many ID tokens a round can use.
        measure(setup, credentials, min(2.0, per_round), connections)
        warm = measure(setup, Requests(each=exchange_requests(setup, 1000)), 2.0, connections)
        best = warm["per_second"]
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        minted = 0.0
        for _ in range(rounds):
            theirs.append(measure(setup, credentials, per_round, connections))
            started = time.monotonic()
            batch = exchange_requests(setup, int(best * per_round * 2.5) + connections)
            minted += time.monotonic() - started
            ours.append(measure(setup, Requests(each=batch), per_round, connections))
            best = max(best, ours[-1]["per_second"])
    exchange, credentials_median = _median(ours), _median(theirs)
    ratio = exchange["per_second"] / credentials_median["per_second"]
    figures.update(
        name="token_exchange",
        what="token-exchange (RS256 ID token in, ES256 at+jwt out) vs client_credentials "
        "grants per second, one server process, alternating rounds",
        database="sqlite" if database_url is None else database_url.partition(":")[0],
        connections=connections,
        rounds=rounds,
        token_exchange=exchange,
        client_credentials=credentials_median,
        token_exchange_rounds=[round(r["per_second"]) for r in ours],
        client_credentials_rounds=[round(r["per_second"]) for r in theirs],
        ratio=round(ratio, 3),
        target=TARGET,
        target_met=ratio >= TARGET,
        minting_seconds_outside_the_rounds=round(minted, 1),
        jwks_fetches=setup.issuer.hits["/.well-known/jwks"],
        loadavg_1m_at_end=round(os.getloadavg()[0], 2),
    )
    if any(r["used_up"] for r in ours):
        figures["note"] = "a round used up its ID tokens before its time"
    return figures


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(results, key=lambda r: r["per_second"])
    middle = dict(ordered[len(ordered) // 2])
    middle["server_cpu_ms_per_grant_median"] = round(
        statistics.median(r["server_cpu_ms_per_grant"] for r in results), 3
    )
    return middle


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per grant, all rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args(argv if argv is not None else [])
    result = run(args.seconds, args.connections, args.rounds, args.database_url)
    ours, theirs = result["token_exchange"], result["client_credentials"]
    print(
        f"token exchange {ours['per_second']:.0f}/s vs client_credentials "
        f"{theirs['per_second']:.0f}/s: ratio {result['ratio']:.2f}x (target >= {TARGET}x, "
        f"{'met' if result['target_met'] else 'MISSED'}; median of {result['rounds']} "
        f"alternating rounds, {result['connections']} connections, {result['database']})"
    )
    print(
        f"  rounds: exchange {result['token_exchange_rounds']}, "
        f"client_credentials {result['client_credentials_rounds']}"
    )
    print(
        f"  server CPU per grant: exchange {ours['server_cpu_ms_per_grant_median']} ms, "
        f"client_credentials {theirs['server_cpu_ms_per_grant_median']} ms; generator "
        f"{ours['generator_cpu_ms_per_grant']} / {theirs['generator_cpu_ms_per_grant']} ms; "
        f"JWKS fetched {result['jwks_fetches']}x; load {result['machine']['loadavg_1m_at_start']}"
        f" -> {result['loadavg_1m_at_end']}"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
