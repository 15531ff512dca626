"""allowedIpRanges: parsing, canonical form, and who is inside."""

from __future__ import annotations

import pytest

from keyplane.domain.networks import MAX_RANGES, AllowedRanges, normalise_ranges


def test_ranges_are_kept_in_canonical_form_without_duplicates() -> None:
    given = [" 10.0.0.0/8", "2001:DB8:0::/32", "203.0.113.7", "::1", "10.0.0.0/8"]

    assert normalise_ranges(given) == ["10.0.0.0/8", "2001:db8::/32", "203.0.113.7/32", "::1/128"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10.0.0.5/24", "'10.0.0.5/24' has host bits set: write the network, 10.0.0.0/24"),
        ("2001:db8::1/32", "write the network, 2001:db8::/32"),
        ("10.0.0.0/33", "not an IPv4 or IPv6 range"),
        ("example.com", "not an IPv4 or IPv6 range"),
        ("", "not an IPv4 or IPv6 range"),
    ],
)
def test_a_bad_range_is_named(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
        normalise_ranges(["10.0.0.0/8", value])


def test_the_list_is_capped() -> None:
    normalise_ranges([f"10.{i}.0.0/16" for i in range(MAX_RANGES)])
    with pytest.raises(ValueError, match=f"at most {MAX_RANGES}"):
        normalise_ranges([f"10.{i}.0.0/16" for i in range(MAX_RANGES + 1)])


def test_no_list_is_no_restriction() -> None:
    assert AllowedRanges.of(None) is None
    assert AllowedRanges.of([], []) is None


@pytest.mark.parametrize(
    ("address", "refused_by"),
    [
        ("10.1.2.3", None),
        ("::ffff:10.1.2.3", None),  # an IPv4 client seen by a dual-stack listener
        ("2001:db8::7", None),
        ("10.2.0.1", "this token's"),
        ("192.168.0.1", "the organization's"),
        ("203.0.113.7", "this token's"),  # outside both: the narrower list is named
        ("unknown", "this token's"),  # no client address is inside no range
        ("testclient", "this token's"),
    ],
)
def test_a_request_must_be_inside_both_lists(address: str, refused_by: str | None) -> None:
    ranges = AllowedRanges.of(
        ["10.0.0.0/8", "2001:db8::/32"], ["10.1.0.0/16", "192.168.0.0/16", "2001:db8::/48"]
    )
    assert ranges is not None

    refusal = ranges.refusal(address)

    if refused_by is None:
        assert refusal is None
    else:
        assert refusal == f"request from {address} is outside {refused_by} allowedIpRanges"
    assert ranges.refusal(address) == refusal  # remembered, the same


def test_the_organizations_list_alone_applies() -> None:
    ranges = AllowedRanges.of(["198.51.100.0/24"])
    assert ranges is not None

    assert ranges.refusal("198.51.100.9") is None
    assert ranges.refusal("198.51.101.9") == (
        "request from 198.51.101.9 is outside the organization's allowedIpRanges"
    )


def test_a_range_written_in_the_ipv4_mapped_form_names_ipv4_clients() -> None:
    # What a dual-stack listener's 403 shows (::ffff:10.1.1.1) is a natural thing to allow.
    assert normalise_ranges(["::ffff:10.1.1.1", "::ffff:10.0.0.0/104"]) == [
        "10.1.1.1/32",
        "10.0.0.0/8",
    ]
    stored_before = AllowedRanges.of(["::ffff:a01:101/128"])  # kept as written until now
    assert stored_before is not None
    for seen in ("10.1.1.1", "::ffff:10.1.1.1"):
        assert stored_before.refusal(seen) is None
    assert stored_before.refusal("10.1.1.2") is not None
    # A wider IPv6 range names IPv6 clients only, however an IPv4 client arrives.
    ipv6_only = AllowedRanges.of(["::/0"])
    assert ipv6_only is not None and ipv6_only.refusal("2001:db8::1") is None
    assert ipv6_only.refusal("::ffff:10.1.1.1") is not None
