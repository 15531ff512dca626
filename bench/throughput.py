"""Authenticated requests per second on one server process, against /healthz.

One ``keyplane server`` process (one worker) on PostgreSQL; wrk on loopback. The
authenticated request is ``GET /v1/organizations/{id}/deployments`` with a
workspace token (3 deployments visible); ``GET /v1/self`` with the same token is
measured too, to separate the cost of authentication from that of the listing's
database query. Runs alternate (healthz, deployments, self) and each figure is
the median of its runs, so that a noisy neighbour hurts all of them alike. Then
the database is filled to 1,000 and 1,000,000 stored tokens (with their role
bindings) and the authenticated figure is taken again. Every figure is taken on two
servers: one as configured by default (repeated reads answered from the answer
cache) and one with ``KEYPLANE_ANSWER_CACHE=false`` (every request routed,
authenticated and read from PostgreSQL), suffixed ``_no_answer_cache``.

Targets: deployments/healthz ≥ 0.8; rps at 1,000,000 tokens / rps at 1,000 ≥ 0.95.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import time

import httpx
from sqlalchemy import create_engine, text

from bench._cluster import Cluster, Server, cluster, machine, merge_results

DURATION = int(os.environ.get("KEYPLANE_BENCH_SECONDS", "8"))
REPEATS = int(os.environ.get("KEYPLANE_BENCH_REPEATS", "3"))
CONNECTIONS = 32
SIZES = (1_000, int(os.environ.get("KEYPLANE_BENCH_MAX_TOKENS", "1000000")))


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def wrk(url: str, token: str | None = None) -> float:
    """Requests per second (non-2xx answers fail the run)."""
    command = [ensure_wrk(), "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=DURATION + 60).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not found:
        raise RuntimeError(f"no figure from wrk:\n{out}")
    return float(found.group(1))


def setup(c: Cluster, server: Server) -> tuple[str, str]:
    """A workspace with three deployments and a workspace token; returns (path, token)."""
    with httpx.Client(base_url=server.url, headers=c.owner(), timeout=30) as api:
        ws = api.post(f"/v1/organizations/{c.org_id}/workspaces", json={"name": "bench"})
        ws.raise_for_status()
        for n in range(3):
            api.post(
                f"/v1/organizations/{c.org_id}/deployments",
                json={"name": f"dep{n}", "workspaceId": ws.json()["id"]},
            ).raise_for_status()
        token = api.post(
            f"/v1/organizations/{c.org_id}/tokens",
            json={"name": "ci", "scope": "WORKSPACE", "entityId": ws.json()["id"],
                  "role": "WORKSPACE_MEMBER"},
        )  # fmt: skip
        token.raise_for_status()
    return f"/v1/organizations/{c.org_id}/deployments", token.json()["token"]


SERIES = "generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) i"


def fill_tokens(c: Cluster, total: int) -> None:
    """Store organization tokens (and their role bindings) until there are ``total``."""
    engine = create_engine(c.database_url)
    with engine.begin() as db:
        have = db.scalar(text("SELECT count(*) FROM api_tokens")) or 0
        if have < total:
            params = {"org": c.org_id, "lo": have, "hi": total - 1}
            db.execute(text(
                "INSERT INTO api_tokens (id, organization_id, scope, name, description, "
                "secret_hash, short_token, start_at, created_by, updated_by, created_at, "
                "updated_at) SELECT 'fill' || i, :org, 'ORGANIZATION', 'filler', '', "
                "encode(sha256(('filler' || i)::bytea), 'hex'), 'kpo_fill', now(), "
                "'{}'::json, '{}'::json, now(), now() FROM " + SERIES
            ), params)  # fmt: skip
            db.execute(text(
                "INSERT INTO role_bindings (id, subject_id, token_id, level, entity_id, role, "
                "organization_id) SELECT 'fillrb' || i, 'fill' || i, 'fill' || i, "
                "'ORGANIZATION', :org, 'ORGANIZATION_MEMBER', :org "
                "FROM " + SERIES
            ), params)  # fmt: skip
        db.execute(text("ANALYZE api_tokens"))
        db.execute(text("ANALYZE role_bindings"))
    engine.dispose()


def measure(server: Server, path: str, token: str) -> dict[str, float]:
    runs: dict[str, list[float]] = {"healthz": [], "deployments": [], "self": []}
    for _ in range(REPEATS):
        runs["healthz"].append(wrk(f"{server.url}/healthz"))
        runs["deployments"].append(wrk(f"{server.url}{path}", token))
        runs["self"].append(wrk(f"{server.url}/v1/self", token))
    figures = {f"{name}_rps": round(statistics.median(v), 1) for name, v in runs.items()}
    figures["deployments_ratio"] = round(figures["deployments_rps"] / figures["healthz_rps"], 3)
    figures["self_ratio"] = round(figures["self_rps"] / figures["healthz_rps"], 3)
    return figures


def main() -> dict[str, object]:
    figures: dict[str, object] = {
        "machine": machine(),
        "wrk": f"1 thread, {CONNECTIONS} connections, {DURATION} s per run, "
        f"median of {REPEATS} alternating runs",
        "targets": {"deployments_ratio": 0.8, "ratio_1m_to_1k": 0.95},
    }
    with cluster() as c:
        server = c.start()
        # The same, with every request routed, authenticated and read from the database.
        plain = c.start(KEYPLANE_ANSWER_CACHE="false")
        path, token = setup(c, server)
        servers = {"": server, "_no_answer_cache": plain}
        for suffix, each in servers.items():
            httpx.get(f"{each.url}{path}", headers={"Authorization": f"Bearer {token}"})
            figures["base" + suffix] = base = measure(each, path, token)
            print(f"one process{suffix.replace('_', ' ')}: {base}")
        for size in SIZES:
            started = time.monotonic()
            fill_tokens(c, size)
            filled = round(time.monotonic() - started, 1)
            for suffix, each in servers.items():
                figures[f"tokens_{size}{suffix}"] = at = measure(each, path, token)
                at["fill_seconds"] = filled
                print(f"{size:>9,} stored tokens{suffix.replace('_', ' ')}: {at}")
        for suffix in servers:
            big, small = (
                figures[f"tokens_{SIZES[-1]}{suffix}"],
                figures[f"tokens_{SIZES[0]}{suffix}"],
            )
            assert isinstance(big, dict) and isinstance(small, dict)
            ratio = round(big["deployments_rps"] / small["deployments_rps"], 3)
            figures["ratio_1m_to_1k" + suffix] = ratio
            label = suffix.replace("_", " ")
            print(f"authenticated rps at 1,000,000 / at 1,000 tokens{label}: {ratio}")
    figures["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    merge_results("throughput", figures)
    return figures


if __name__ == "__main__":
    main()
