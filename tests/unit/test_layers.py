"""Use cases do not depend on the web framework's edge: no service imports keyplane.http."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "keyplane"


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
