"""The SDK's request paths: the user's ids and keys never change which URL is asked."""

from __future__ import annotations

import pytest

from keyplane.client import EmptySegment, api_path


@pytest.mark.parametrize(
    ("segment", "sent"),
    [
        ("cabc123", "cabc123"),
        ("BAD KEY", "BAD%20KEY"),
        ("a?b=1#c", "a%3Fb%3D1%23c"),
        ("../../tokens", "..%2F..%2Ftokens"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("100%", "100%25"),
        ("Bücher", "B%C3%BCcher"),
    ],
)
def test_each_segment_stays_one_segment(segment: str, sent: str) -> None:
    assert api_path("/v1/things/{}/variables", segment) == f"/v1/things/{sent}/variables"


def test_an_empty_segment_is_refused_rather_than_dropped() -> None:
    with pytest.raises(EmptySegment):
        api_path("/v1/deployments/{}/deploys/{}", "cdep", "")
