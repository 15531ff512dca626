"""No two packages under src/keyplane import each other (DESIGN §6): imports point
down, from the assembly point through the edge and the areas to the foundations.
Use cases do not depend on the web framework's edge: no service imports keyplane.http."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "keyplane"


def _imports() -> dict[tuple[str, str], str]:
    edges: dict[tuple[str, str], str] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if "migrations" in rel.parts:
            continue
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keyplane."):
                target = (node.module or "").split(".")[1]
                if target != own:
                    edges.setdefault((own, target), f"{rel}:{node.lineno}")
    return edges


def test_no_two_packages_import_each_other():
    edges = _imports()
    pairs = defaultdict(list)
    for (a, b), where in edges.items():
        if (b, a) in edges and a < b:
            pairs[(a, b)] = [where, edges[(b, a)]]
    assert dict(pairs) == {}


def test_the_domain_imports_no_other_package():
    assert sorted(b for (a, b) in _imports() if a == "domain") == []


def test_no_service_imports_keyplane_http():
    offenders = []
    for path in sorted(SRC.glob("*/service.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keyplane.http"):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.module}")
    assert not offenders, (
        "services take what they need as arguments and import keyplane.db.paging for "
        f"paging, never keyplane.http: {offenders}"
    )
