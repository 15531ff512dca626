"""The password policy and the argon2id hasher."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from keyplane.domain.errors import InvalidInput
from keyplane.identity.passwords import Passwords, check_policy, common_passwords

FAST = PasswordHasher(time_cost=1, memory_cost=1024)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1", "at least 10 characters"),
        ("1234567890", "most common"),
        ("Password123", "most common"),
        ("alice@example.com", "must not be your email"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_weak_passwords_are_refused(password: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_policy(password, "alice@example.com", 10)
    assert problem in refused.value.message


def test_a_long_uncommon_password_is_accepted() -> None:
    check_policy("plum vestibule 1987 kettle", "alice@example.com", 10)


def test_the_shipped_list_is_loaded() -> None:
    assert len(common_passwords()) > 19_000
    assert "qwerty" in common_passwords()


def test_hashes_are_argon2id_and_check_out() -> None:
    passwords = Passwords(FAST)
    stored = passwords.hash("plum vestibule 1987 kettle")
    assert stored.startswith("$argon2id$")
    assert passwords.check(stored, "plum vestibule 1987 kettle") == (True, None)
    assert passwords.check(stored, "wrong") == (False, None)


def test_no_stored_hash_never_matches() -> None:
    assert Passwords(FAST).check(None, "keyplane dummy password, never matches") == (False, None)


def test_a_hash_with_other_parameters_is_replaced() -> None:
    old = Passwords(FAST).hash("plum vestibule 1987 kettle")
    matches, new = Passwords(PasswordHasher(time_cost=2, memory_cost=2048)).check(
        old, "plum vestibule 1987 kettle"
    )
    assert matches and new and "m=2048,t=2" in new
