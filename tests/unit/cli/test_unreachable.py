"""What the CLI says when no answer arrives, by what went wrong on the way."""

from __future__ import annotations

import socket
import urllib.error

import pytest

from keyplane.cli.errors import unreachable
from keyplane.transport import unreachable_error

URL = "https://keyplane.example.com/v1/self"


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError(ConnectionResetError(104, "Connection reset by peer")),
        urllib.error.URLError(BrokenPipeError(32, "Broken pipe")),
        ConnectionResetError(104, "Connection reset by peer"),  # while reading the answer
    ],
)
def test_a_connection_closed_mid_request_is_not_called_refused(error: BaseException) -> None:
    found = unreachable_error(URL, error)
    assert found.closed and not found.tls
    assert "closed before an answer arrived" in str(found)
    hint = unreachable(found).hint or ""
    assert "closed the connection mid-request" in hint and "try again" in hint


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
        urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
    ],
)
def test_no_connection_at_all_points_at_the_url(error: BaseException) -> None:
    found = unreachable_error(URL, error)
    assert not found.closed
    assert "connection refused or host not found" in str(found)
    assert "check KEYPLANE_URL (https://keyplane.example.com)" in (unreachable(found).hint or "")
