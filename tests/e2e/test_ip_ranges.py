"""allowedIpRanges through a real ``keyplane server``: the address checked is the one
uvicorn settles on, from X-Forwarded-For only when ``--forwarded-allow-ips`` trusts the
peer (here always 127.0.0.1); and the CLI's ``--allowed-ip-range``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PG_URL, drop_postgres_database, fresh_postgres_database
from tests.e2e.conftest import Server, running_server

FORWARDED = "203.0.113.7"


@pytest.fixture(scope="module")
def trusting(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Trusts the forwarded headers of 127.0.0.1, as a load balancer on the host."""
    with running_server(
        database_url, tmp_path_factory, args=("--forwarded-allow-ips", "127.0.0.1")
    ) as started:
        yield started


@pytest.fixture(scope="module")
def distrusting(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Trusts only a proxy that is not the peer (set through the environment); on a
    database of its own, of the same backend."""
    if database_url.startswith("sqlite"):
        url, name = f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'keyplane.db'}", None
    else:
        assert PG_URL
        url, name = fresh_postgres_database(PG_URL)
    try:
        with running_server(
            url, tmp_path_factory, KEYPLANE_FORWARDED_ALLOW_IPS="10.9.9.9"
        ) as started:
            yield started
    finally:
        if name is not None:
            assert PG_URL
            drop_postgres_database(PG_URL, name)


def token_with(server: Server, ranges: list[str]) -> str:
    answer = httpx.post(
        f"{server.url}/v1/organizations/{server.acme.org_id}/tokens",
        json={
            "name": f"ci from {ranges}",
            "scope": "ORGANIZATION",
            "role": "ORGANIZATION_MEMBER",
            "allowedIpRanges": ranges,
        },
        headers={"Authorization": f"Bearer {server.acme.owner_token}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def whoami(server: Server, token: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    return httpx.get(f"{server.url}/v1/self", headers=headers, timeout=10)


def refused_naming(answer: httpx.Response, address: str) -> bool:
    return answer.status_code == 403 and answer.json()["message"].startswith(
        f"request from {address} is outside this token's allowedIpRanges"
    )


def test_a_trusted_proxys_forwarded_address_is_the_one_checked(trusting: Server) -> None:
    token = token_with(trusting, ["203.0.113.0/24"])

    assert whoami(trusting, token, FORWARDED).status_code == 200
    assert refused_naming(whoami(trusting, token, "198.51.100.1"), "198.51.100.1")
    # The client the proxy names is the last address it appended.
    assert whoami(trusting, token, f"198.51.100.1, {FORWARDED}").status_code == 200
    assert refused_naming(whoami(trusting, token), "127.0.0.1")  # no header: the peer


def test_an_untrusted_peers_forwarded_header_is_ignored(distrusting: Server) -> None:
    forwarded_only = token_with(distrusting, ["203.0.113.0/24"])
    loopback = token_with(distrusting, ["127.0.0.1"])

    assert refused_naming(whoami(distrusting, forwarded_only, FORWARDED), "127.0.0.1")
    assert whoami(distrusting, loopback, FORWARDED).status_code == 200


def test_the_cli_sets_shows_and_clears_a_tokens_ranges(trusting: Server) -> None:
    owner = trusting.acme.owner_token
    made = trusting.cli(
        "organization", "token", "create", "--name", "cron", "--clean-output",
        "--allowed-ip-range", "203.0.113.0/24", "--allowed-ip-range", "2001:DB8::/32",
        token=owner,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    value = made.stdout.strip()
    assert whoami(trusting, value).status_code == 403
    token_id = whoami(trusting, value, FORWARDED).json()["id"]

    shown = trusting.cli("organization", "token", "inspect", token_id, token=owner)
    assert "203.0.113.0/24, 2001:db8::/32" in shown.stdout, shown.stdout + shown.stderr

    bad = trusting.cli(
        "organization", "token", "update", token_id, "--allowed-ip-range", "10.0.0.5/24",
        token=owner,
    )  # fmt: skip
    assert bad.code != 0 and "host bits set" in bad.stdout + bad.stderr

    cleared = trusting.cli(
        "organization", "token", "update", token_id, "--clear-allowed-ip-ranges", token=owner
    )
    assert cleared.code == 0, cleared.stderr
    assert whoami(trusting, value).status_code == 200


def test_the_cli_sets_and_shows_the_organizations_ranges(trusting: Server) -> None:
    owner = trusting.globex.owner_token  # the last test to use globex: it locks itself out
    inspected = trusting.cli("organization", "inspect", token=owner)
    assert "anywhere" in inspected.stdout, inspected.stdout + inspected.stderr

    done = trusting.cli(
        "organization", "update", "--allowed-ip-range", "203.0.113.0/24", token=owner
    )

    assert done.code == 0, done.stderr
    assert "203.0.113.0/24" in done.stdout
    answer = whoami(trusting, owner)
    assert answer.status_code == 403
    assert "outside the organization's allowedIpRanges" in answer.json()["message"]
    assert whoami(trusting, owner, FORWARDED).status_code == 200
