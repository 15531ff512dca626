"""Revocation propagation between two replicas: from the delete on A to B refusing.

Two ``keyplane server`` processes on one PostgreSQL database. Each round creates an
organization token on A, has B authenticate it (so B has it cached), deletes it on
A, and polls B over a kept-alive connection until B answers 401. Two figures per
round: from sending the DELETE (``from_send``) and from A's 204 (``from_ack``), with
both notifiers (PostgreSQL LISTEN/NOTIFY and Redis pub/sub). Target: p99 ≤ 100 ms.
"""

from __future__ import annotations

import os
import time

import httpx

from bench._cluster import REDIS_URL, Cluster, Server, cluster, machine, merge_results, percentile

ROUNDS = int(os.environ.get("KEYPLANE_BENCH_ROUNDS", "100"))
BOUND = 5.0  # a round that takes longer than this has failed


def one_round(c: Cluster, a: httpx.Client, b: httpx.Client) -> tuple[float, float]:
    made = a.post(
        f"/v1/organizations/{c.org_id}/tokens",
        json={"name": "bench", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"},
        headers=c.owner(),
    )
    made.raise_for_status()
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    assert b.get("/v1/self", headers=token).status_code == 200
    sent = time.perf_counter()
    a.delete(f"/v1/organizations/{c.org_id}/tokens/{made.json()['id']}", headers=c.owner())
    acked = time.perf_counter()
    while b.get("/v1/self", headers=token).status_code != 401:
        if time.perf_counter() - sent > BOUND:
            raise RuntimeError(f"B still accepts a deleted token after {BOUND} s")
    refused = time.perf_counter()
    return refused - sent, refused - acked


def measure(c: Cluster, server_a: Server, server_b: Server) -> dict[str, float]:
    from_send: list[float] = []
    from_ack: list[float] = []
    with httpx.Client(base_url=server_a.url) as a, httpx.Client(base_url=server_b.url) as b:
        for _ in range(ROUNDS):
            send, ack = one_round(c, a, b)
            from_send.append(send * 1000)
            from_ack.append(ack * 1000)
        lag = _mean_notification_lag_ms(b.get("/metrics").text)
    return {
        "rounds": ROUNDS,
        "notification_lag_mean_ms": lag,
        "from_send_p50_ms": round(percentile(from_send, 50), 2),
        "from_send_p99_ms": round(percentile(from_send, 99), 2),
        "from_ack_p50_ms": round(percentile(from_ack, 50), 2),
        "from_ack_p99_ms": round(percentile(from_ack, 99), 2),
        "max_ms": round(max(from_send), 2),
    }


def _mean_notification_lag_ms(metrics: str) -> float | None:
    """B's own measure: from the NOTIFY/PUBLISH (its timestamp) to B receiving it."""
    values = {}
    for line in metrics.splitlines():
        name, _, value = line.partition(" ")
        if name in ("keyplane_cache_invalidation_lag_seconds_sum",
                    "keyplane_cache_invalidation_lag_seconds_count"):  # fmt: skip
            values[name.rsplit("_", 1)[1]] = float(value)
    if not values.get("count"):
        return None
    return round(values["sum"] / values["count"] * 1000, 2)


def main() -> dict[str, object]:
    figures: dict[str, object] = {"machine": machine(), "target_p99_ms": 100}
    for notifier, settings in (
        ("postgresql", {"KEYPLANE_NOTIFIER": "postgresql"}),
        ("redis", {"KEYPLANE_NOTIFIER": "redis", "KEYPLANE_REDIS_URL": REDIS_URL}),
    ):
        with cluster() as c:
            a, b = c.start(**settings), c.start(**settings)
            figures[notifier] = result = measure(c, a, b)
            print(
                f"revocation via {notifier}: p50 {result['from_send_p50_ms']} ms, "
                f"p99 {result['from_send_p99_ms']} ms from the DELETE being sent "
                f"(p99 {result['from_ack_p99_ms']} ms from its 204; notification itself "
                f"{result['notification_lag_mean_ms']} ms on average), {ROUNDS} rounds"
            )
    figures["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    merge_results("revocation", figures)
    return figures


if __name__ == "__main__":
    main()
