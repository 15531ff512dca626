"""What a command's --help promises, read as a user reads it (the CLI as a subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def help_of(*command: str) -> dict[str, str]:
    """Each option's (or argument's) help text, joined across wrapped lines, by its name."""
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", *command, "--help"],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    entries: dict[str, str] = {}
    name = ""
    for line in done.stdout.splitlines():
        if found := re.match(r"  (?:-\w, )?(--?[\w-]+|[A-Z_]+) <[^>]*>\s+(.*)", line):
            name, entries[found[1]] = found[1], found[2]
        elif name and line.startswith(" " * 20):
            entries[name] += " " + line.strip()
    return entries


def test_workload_identity_update_keeps_what_is_left_out() -> None:
    update = help_of("organization", "workload-identity", "update")
    for option in ("--audience", "--token-lifetime"):
        assert "keep the current one" in update[option], update[option]
    assert "public URL" not in update["--audience"] and "(900)" not in update["--token-lifetime"]
    create = help_of("organization", "workload-identity", "create")
    assert "public URL" in create["--audience"] and "(900)" in create["--token-lifetime"]


def test_an_invitation_takes_an_email_not_an_id() -> None:
    assert not re.search(r"\bid\b", help_of("organization", "user", "invite")["EMAIL"])
    assert "(or id)" in help_of("organization", "user", "update")["EMAIL"]
