"""Run the benchmarks: ``python -m bench [NAME ...]`` (``make bench`` runs them all).

Every ``bench/<name>.py`` whose name does not start with ``_`` is a benchmark: its
``main()`` prints its figures and returns them as a dict, which is merged into
``bench/results.json`` under ``<name>`` (other keys are kept, so benchmarks run on
their own add to the same file). Modules that only draw from the results (``chart``)
run last.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
LAST = ("chart",)


def names() -> list[str]:
    found = [p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_")]
    return sorted(found, key=lambda name: (name in LAST, name))


def merge(name: str, figures: dict[str, Any]) -> None:
    """Put ``figures`` under ``name`` in results.json, keeping every other key."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[name] = figures
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")


def run(selected: list[str]) -> int:
    failed = []
    for name in selected:
        print(f"== bench/{name}.py", flush=True)
        started = time.monotonic()
        try:
            figures = importlib.import_module(f"bench.{name}").main()
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        if isinstance(figures, dict):
            merge(name, figures)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"figures in {RESULTS.relative_to(HERE.parent)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    wanted = sys.argv[1:] or names()
    unknown = sorted(set(wanted) - set(names()))
    if unknown:
        sys.exit(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(names())})")
    sys.exit(run(wanted))
