"""The token wire format (DESIGN §3): prefix, ≥256 random bits in base62, CRC32 checksum."""

from __future__ import annotations

import hashlib
import math
import zlib

import pytest

from keyplane.domain import credentials
from keyplane.domain.credentials import (
    BASE62,
    BODY_LENGTH,
    CHECKSUM_LENGTH,
    VALUE_LENGTH,
    SecretKind,
)
from keyplane.domain.errors import NotAuthenticated

PREFIXES = {
    SecretKind.ORGANIZATION_TOKEN: "kpo_",
    SecretKind.WORKSPACE_TOKEN: "kpw_",
    SecretKind.DEPLOYMENT_TOKEN: "kpd_",
    SecretKind.DEPLOYMENT_KEY: "kpk_",
}


def test_base62_alphabet():
    assert len(BASE62) == 62 == len(set(BASE62))
    assert BASE62.isascii() and BASE62.isalnum()


def test_the_body_carries_at_least_256_bits():
    assert BODY_LENGTH * math.log2(62) >= 256
    assert 62**CHECKSUM_LENGTH > 2**32  # every CRC32 has its own checksum text


@pytest.mark.parametrize("kind", list(SecretKind))
def test_generated_values_have_the_documented_shape(kind):
    values = {credentials.generate(kind) for _ in range(500)}
    assert len(values) == 500
    for value in values:
        assert value.startswith(PREFIXES[kind])
        assert len(value) == VALUE_LENGTH == 4 + BODY_LENGTH + CHECKSUM_LENGTH
        assert set(value[4:]) <= set(BASE62)
        assert credentials.parse(value) is kind
        head = value[:-CHECKSUM_LENGTH]
        number = sum(BASE62.index(c) * 62**i for i, c in enumerate(reversed(value[-6:])))
        assert number == zlib.crc32(head.encode())


def test_bodies_use_the_whole_alphabet():
    """A sanity check on the randomness: 200 bodies use every base62 digit."""
    seen = set()
    for _ in range(200):
        seen |= set(credentials.generate(SecretKind.ORGANIZATION_TOKEN)[4:-CHECKSUM_LENGTH])
    assert seen == set(BASE62)


def test_the_checksum_catches_every_single_character_change():
    value = credentials.generate(SecretKind.WORKSPACE_TOKEN)
    for position in range(4, len(value)):
        for replacement in BASE62:
            if replacement == value[position]:
                continue
            changed = value[:position] + replacement + value[position + 1 :]
            with pytest.raises(NotAuthenticated, match="checksum"):
                credentials.parse(changed)


def test_the_checksum_catches_swapped_neighbours():
    value = credentials.generate(SecretKind.DEPLOYMENT_TOKEN)
    for position in range(4, len(value) - 1):
        a, b = value[position], value[position + 1]
        if a != b:
            swapped = value[:position] + b + a + value[position + 2 :]
            with pytest.raises(NotAuthenticated):
                credentials.parse(swapped)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "kpo_",
        "xyz_" + "a" * (VALUE_LENGTH - 4),  # unknown prefix
        "kpo_" + "a" * (VALUE_LENGTH - 5),  # one short
        "kpo_" + "a" * (VALUE_LENGTH - 3),  # one long
        "kpo_" + "-" * (VALUE_LENGTH - 4),  # not base62
        "kpo_" + "٣" * (VALUE_LENGTH - 4),  # alphanumeric, but not ASCII
        "KPO_" + "a" * (VALUE_LENGTH - 4),  # prefixes are lower case
    ],
)
def test_malformed_values_are_refused_without_echoing_them(value):
    with pytest.raises(NotAuthenticated) as refused:
        credentials.parse(value)
    assert "malformed" in refused.value.message
    if len(value) > 4:
        assert value[4:] not in refused.value.message


def test_a_prefix_swap_breaks_the_checksum():
    value = credentials.generate(SecretKind.DEPLOYMENT_TOKEN)
    with pytest.raises(NotAuthenticated, match="checksum"):
        credentials.parse("kpo_" + value[4:])


def test_only_a_sha256_of_the_whole_value_is_kept():
    value = credentials.generate(SecretKind.ORGANIZATION_TOKEN)
    assert credentials.hash_secret(value) == hashlib.sha256(value.encode()).hexdigest()
    assert value not in credentials.hash_secret(value)


def test_the_short_excerpt_is_prefix_and_six_characters():
    value = credentials.generate(SecretKind.ORGANIZATION_TOKEN)
    assert credentials.short(value) == value[:10]
    assert len(value) - len(credentials.short(value)) >= 43  # the rest stays secret
