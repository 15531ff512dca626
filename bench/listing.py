"""A listing costs the same whatever the caller cannot see.

One ``keyplane server`` process on PostgreSQL with ``KEYPLANE_ANSWER_CACHE=false``, so
that every request is routed, authenticated and read from the database. Two
organizations in the same database, each with a workspace holding one deployment
and a Workspace token (WORKSPACE_MEMBER) on it; beside it, ten other workspaces
hold the deployments the token cannot see: 10 in all in the first organization,
1,000 in the second. The token lists its deployments (``GET …/deployments``, one
answer item) over one keep-alive connection, request after request; rounds
alternate between the two organizations so that a noisy neighbour hurts both
alike, and each figure is the median latency over every request of its rounds.

Target: latency beside 1,000 invisible deployments / beside 10 ≤ 1.2.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import httpx

from bench._cluster import Cluster, Server, cluster, machine

REQUESTS = int(os.environ.get("KEYPLANE_BENCH_LISTING_REQUESTS", "1000"))
ROUNDS = int(os.environ.get("KEYPLANE_BENCH_REPEATS", "5"))
INVISIBLE = (10, 1_000)
OTHER_WORKSPACES = 10
TARGET = 1.2


def organization(c: Cluster, name: str) -> tuple[str, dict[str, str]]:
    """A new organization (``keyplane admin init``): its id and its owner's headers."""
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "init", "--organization", name,
         "--email", f"owner@{name}.example", "--output", "json"],
        env=c.env(), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    boot = json.loads(done.stdout)
    return boot["organizationId"], {"Authorization": f"Bearer {boot['token']}"}


def populate(server: Server, org_id: str, owner: dict[str, str], invisible: int) -> str:
    """One visible deployment and ``invisible`` others; the Workspace token's value."""
    with httpx.Client(base_url=f"{server.url}/v1/organizations/{org_id}", headers=owner) as api:

        def post(path: str, body: dict[str, object]) -> str:
            answer = api.post(path, json=body)
            answer.raise_for_status()
            return str(answer.json()["id"])

        mine = post("/workspaces", {"name": "mine"})
        post("/deployments", {"name": "the-one", "workspaceId": mine})
        others = [post("/workspaces", {"name": f"other{n}"}) for n in range(OTHER_WORKSPACES)]
        for n in range(invisible):
            post("/deployments", {"name": f"dep{n}", "workspaceId": others[n % len(others)]})
        body = {"name": "ci", "scope": "WORKSPACE", "entityId": mine, "role": "WORKSPACE_MEMBER"}
        answer = api.post("/tokens", json=body)
        answer.raise_for_status()
        return str(answer.json()["token"])


def latencies(server: Server, org_id: str, token: str) -> list[float]:
    """Milliseconds per request of one round; checks that the token sees one deployment."""
    path = f"/v1/organizations/{org_id}/deployments"
    headers = {"Authorization": f"Bearer {token}"}
    found = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
        first = api.get(path).json()
        if first["totalCount"] != 1:
            raise RuntimeError(f"the token should see one deployment, not {first['totalCount']}")
        for _ in range(REQUESTS):
            started = time.perf_counter()
            answer = api.get(path)
            found.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
    return found


def main() -> dict[str, object]:
    with cluster() as c:
        server = c.start(KEYPLANE_ANSWER_CACHE="false")
        tenants = {}
        for invisible in INVISIBLE:
            org_id, owner = organization(c, f"beside{invisible}")
            tenants[invisible] = (org_id, populate(server, org_id, owner, invisible))
        runs: dict[int, list[float]] = {n: [] for n in INVISIBLE}
        for _ in range(ROUNDS):
            for invisible, (org_id, token) in tenants.items():
                runs[invisible] += latencies(server, org_id, token)
    figures: dict[str, object] = {
        "machine": machine(),
        "what": "GET …/deployments by a Workspace token that sees 1 deployment, answer cache "
        f"off, PostgreSQL, one server process; {ROUNDS} alternating rounds of {REQUESTS} "
        "sequential requests on one keep-alive connection",
        "target_ratio_max": TARGET,
    }
    for invisible, values in runs.items():
        figures[f"beside_{invisible}_ms"] = {
            "median": round(statistics.median(values), 3),
            "p90": round(statistics.quantiles(values, n=10)[-1], 3),
        }
    small, large = (figures[f"beside_{n}_ms"] for n in INVISIBLE)
    assert isinstance(small, dict) and isinstance(large, dict)
    figures["ratio"] = round(large["median"] / small["median"], 3)
    figures["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(
        f"beside {INVISIBLE[0]}: {small['median']} ms, beside {INVISIBLE[1]:,}: "
        f"{large['median']} ms per request; ratio {figures['ratio']} (target ≤ {TARGET})"
    )
    return figures


if __name__ == "__main__":
    main()
