"""docs/roles.md is the role table the code enforces (``keyplane.domain.roles``).

The README's CLI reference names a permission per command and sends the reader here
for the roles that hold it; this test fails when the two drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from keyplane.domain.roles import IMPLICATIONS, PERMISSIONS, ROLE_ORDER, DeploymentGrant

DOC = Path(__file__).parents[3] / "docs" / "roles.md"


def table() -> str:
    """The markdown the code's table renders as."""
    lines = [
        "| level | roles, each holding every permission of those before it |",
        "|---|---|",
    ]
    lines += [
        f"| {level.value} | {' < '.join(f'`{r.value}`' for r in order)} |"
        for level, order in ROLE_ORDER.items()
    ]
    lines += [
        "",
        "| permission | lowest organization role | lowest workspace role | deployment role |",
        "|---|---|---|---|",
    ]
    for permission, rule in PERMISSIONS.items():
        cells = [rule.organization, rule.workspace, rule.deployment]
        shown = [_role(c) if c else "—" for c in cells]
        lines.append(f"| `{permission.value}` | {' | '.join(shown)} |")
    lines += ["", "Implied roles (held with no role binding of their own):", ""]
    lines += [
        f"- {_role(i.held) if i.held else 'any role'} on {'the' if i.held else 'a'} "
        f"{i.level.value.lower()} gives {_role(i.gives)} in {i.reach.value}."
        for i in IMPLICATIONS
    ]
    return "\n".join(lines) + "\n"


def _role(role: StrEnum) -> str:
    return role.value if role is DeploymentGrant.ANY else f"`{role.value}`"


def test_the_documented_table_is_the_enforced_one() -> None:
    text = DOC.read_text()
    begin, end = "<!-- table: begin -->\n", "<!-- table: end -->"
    assert begin in text and end in text
    documented = text.split(begin, 1)[1].split(end, 1)[0]
    assert documented == table(), "docs/roles.md drifted from keyplane.domain.roles:\n" + table()
