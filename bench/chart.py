"""Draw docs/benchmarks.png from bench/results.json (the scale figures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench._cluster import RESULTS, ROOT

OUT = ROOT / "docs" / "benchmarks.png"


def _revocation(ax: Any, data: dict[str, Any]) -> None:
    kinds = [k for k in ("postgresql", "redis") if k in data]
    x = range(len(kinds))
    p50 = [data[k]["from_send_p50_ms"] for k in kinds]
    p99 = [data[k]["from_send_p99_ms"] for k in kinds]
    ack99 = [data[k]["from_ack_p99_ms"] for k in kinds]
    ax.bar([i - 0.27 for i in x], p50, 0.27, label="p50 from sending the DELETE")
    ax.bar(list(x), p99, 0.27, label="p99 from sending the DELETE")
    ax.bar([i + 0.27 for i in x], ack99, 0.27, label="p99 from A's 204")
    ax.axhline(data.get("target_p99_ms", 100), color="red", linestyle="--", label="p99 target")
    ax.set_xticks(list(x), ["LISTEN/NOTIFY" if k == "postgresql" else "Redis pub/sub"
                            for k in kinds])  # fmt: skip
    ax.set_ylabel("ms from DELETE on A to 401 on B")
    ax.set_title("Revocation across two replicas")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)


def _throughput(ax: Any, data: dict[str, Any]) -> None:
    stages = [k for k in ("base", "tokens_1000", "tokens_1000000") if k in data]
    names = {"base": "2 tokens", "tokens_1000": "1,000", "tokens_1000000": "1,000,000"}
    series = (("healthz_rps", "/healthz (no auth)"), ("self_rps", "/v1/self"),
              ("deployments_rps", "deployments list"))  # fmt: skip
    plain = "_no_answer_cache"
    width = 0.2
    for n, (key, label) in enumerate(series):
        xs = [i + (n - 1.5) * width for i in range(len(stages))]
        ax.bar(xs, [data[s][key] for s in stages], width, label=label)
    if all(s + plain in data for s in stages):
        xs = [i + 1.5 * width for i in range(len(stages))]
        rps = [data[s + plain]["deployments_rps"] for s in stages]
        ax.bar(xs, rps, width, label="deployments list, answer cache off")
    for i, stage in enumerate(stages):
        ratio = data[stage]["deployments_ratio"]
        top = max(data[stage][k] for k, _ in series)
        ax.annotate(f"ratio {ratio:.2f}", (i, top), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(stages)), [names[s] for s in stages])
    ax.set_xlabel("stored tokens")
    ax.set_ylabel("requests/s, one process")
    ax.set_title("Authenticated throughput (ratio: deployments / healthz)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)


def main() -> Path:
    results = json.loads(RESULTS.read_text())
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    if "revocation" in results:
        _revocation(axes[0], results["revocation"])
    if "throughput" in results:
        _throughput(axes[1], results["throughput"])
    where = results.get("throughput", results.get("revocation", {})).get("machine", {})
    fig.suptitle(
        f"keyplane on {where.get('cores', '?')} cores ({where.get('cpu', '?')}), shared; "
        f"1-min load average {where.get('loadavg_1m_at_start', '?')} at start; "
        f"{where.get('when', '')}",
        fontsize=9,
    )
    fig.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"chart: {OUT.relative_to(ROOT)}")
    return OUT


if __name__ == "__main__":
    main()
