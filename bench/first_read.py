"""The honest cost of a first read: an uncached listing against /healthz.

One ``keyplane server`` process on PostgreSQL with ``KEYPLANE_ANSWER_CACHE=false``, so
that every ``GET /v1/organizations/{id}/deployments`` (a Workspace token, three
deployments visible) is routed, authenticated and read from the database; wrk on
loopback, healthz and the listing alternating, the median of each. CPU per request of
the server process is measured too, since rps on two shared cores moves with the
machine's load while CPU per request moves much less.

Target (issue "One spine"): listing rps / healthz rps ≥ 0.25 (it was 0.056).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess

from bench._cluster import cluster, machine
from bench.throughput import CONNECTIONS, DURATION, REPEATS, ensure_wrk, setup

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run(url: str, pid: int, token: str | None = None) -> tuple[float, float]:
    """(requests per second, server CPU µs per request) of one wrk run."""
    command = [ensure_wrk(), "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    before = cpu_seconds(pid)
    out = subprocess.run(command, capture_output=True, text=True, timeout=DURATION + 60).stdout
    spent = cpu_seconds(pid) - before
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, spent / count * 1e6


def main() -> dict[str, object]:
    runs: dict[str, list[tuple[float, float]]] = {"healthz": [], "deployments": []}
    with cluster() as c:
        server = c.start(KEYPLANE_ANSWER_CACHE="false")
        path, token = setup(c, server)
        pid = server.process.pid
        for _ in range(REPEATS):
            runs["healthz"].append(run(f"{server.url}/healthz", pid))
            runs["deployments"].append(run(f"{server.url}{path}", pid, token))
    figures: dict[str, object] = {"machine": machine(), "target_ratio_min": 0.25}
    for name, values in runs.items():
        figures[f"{name}_rps"] = round(statistics.median(v[0] for v in values), 1)
        figures[f"{name}_cpu_us_per_request"] = round(statistics.median(v[1] for v in values))
    figures["ratio"] = round(figures["deployments_rps"] / figures["healthz_rps"], 3)  # type: ignore[operator]
    figures["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(figures)
    return figures


if __name__ == "__main__":
    main()
