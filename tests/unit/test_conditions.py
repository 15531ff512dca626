"""Workload identity conditions: how values match, and what an identity must pin."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import pytest

from keyplane.domain.errors import InvalidInput
from keyplane.federation import conditions


def by_regex(pattern: str, value: str) -> bool:
    """The meaning of a glob, as the obvious (backtracking) regular expression."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, re.S) is not None


PATTERNS = ["", "*", "**", "a", "a*", "*a", "*a*", "a*b", "a*a", "*ab*", "a**b", "ab*ba*", "*a*b*a"]
VALUES = ["".join(v) for n in range(5) for v in itertools.product("ab", repeat=n)]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_glob_matches_what_its_regular_expression_matches(pattern: str) -> None:
    for value in VALUES:
        assert conditions.matches(pattern, value) is by_regex(pattern, value), (pattern, value)


def test_typical_refs_match_as_written() -> None:
    assert conditions.matches("refs/heads/release-*", "refs/heads/release-2.1")
    assert not conditions.matches("refs/heads/release-*", "refs/heads/main")
    assert conditions.matches("repo:acme/*:ref:refs/tags/v*", "repo:acme/api:ref:refs/tags/v1")
    assert not conditions.matches("refs/*/main", "refs/main")  # pieces do not overlap


def test_a_pattern_of_many_stars_cannot_stall_a_match() -> None:
    """A backtracking regular expression would take longer than the age of the
    universe here (each * doubles it, and it holds the GIL throughout), so the match
    runs in a process of its own that can be stopped: it must come back, and be right."""
    program = (
        "from keyplane.federation.conditions import matches\n"
        "pattern = '*' * 200 + 'x'\n"
        "print(matches(pattern, 'refs/heads/main' * 17), matches(pattern, 'refs/heads/x'))"
    )
    done = subprocess.run(  # a bound on liveness, not a speed: the regex never returns
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True"]


@pytest.mark.parametrize(
    "issuer",
    [
        "https://token.actions.githubusercontent.com",
        "https://token.actions.githubusercontent.com/acme-enterprise",
        "https://github.acme.example/_services/token",
    ],
)
def test_every_github_issuer_needs_a_repository_or_owner_pinned_by_number(issuer: str) -> None:
    with pytest.raises(InvalidInput, match="must pin repository_id or repository_owner_id"):
        conditions.validate({"repository": "acme/api"}, issuer)
    for not_a_number in ("api", "٨٩٢٣١٤", "²", "4²"):  # Arabic-Indic digits, superscript
        with pytest.raises(InvalidInput, match="repository_id: must be a number"):
            conditions.validate({"repository_id": not_a_number}, issuer)
    assert conditions.validate({"repository_id": "42"}, issuer) == {"repository_id": "42"}


def test_a_risky_event_is_refused_in_a_list_of_events_too() -> None:
    pinned = {"repository_id": "42"}
    assert conditions.risky_event(pinned, {"event_name": "push"}) is None
    assert conditions.risky_event(pinned, {"event_name": "pull_request_target"}) == (
        "pull_request_target"
    )
    listed = {"event_name": ["push", "workflow_run"]}
    assert conditions.risky_event(pinned, listed) == "workflow_run"
    named = {**pinned, "event_name": ["workflow_run"]}
    assert conditions.risky_event(named, listed) is None


def test_other_issuers_need_no_pin() -> None:
    assert conditions.validate({"sub": "system:serviceaccount:ci:deployer"}, "https://k8s.example")
