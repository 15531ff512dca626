"""Credential hygiene as its users meet it: a scanner's signed report, `keyplane token
report|check`, `--expiring-within`, and `keyplane admin notify` run twice at once."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from keyplane.domain import credentials
from keyplane.domain.credentials import SecretKind
from tests.e2e.conftest import Server, running_server
from tests.scanning import KeyServer, key_server, report_body
from tests.smtp import smtp_sink

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def keys() -> Iterator[KeyServer]:
    with key_server() as server:
        yield server


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory, keys) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    with running_server(
        database_url, tmp_path_factory, KEYPLANE_SECRET_SCANNING_KEYS_URL=keys.url
    ) as running:
        yield running


def new_token(server: Server, name: str, days: int | None = None) -> str:
    args = ["organization", "token", "create", "--name", name, "--role", "ORGANIZATION_MEMBER"]
    if days:
        args += ["--expiration", str(days)]
    done = server.cli(*args, "--clean-output", token=server.acme.owner_token)
    assert done.code == 0, done.stderr
    return done.stdout.strip()


def test_token_check_validates_prefix_and_checksum_offline(server):
    value = credentials.generate(SecretKind.WORKSPACE_TOKEN)
    valid = server.cli("token", "check", value, KEYPLANE_URL="http://127.0.0.1:9")  # no server
    assert valid.code == 0, valid.stderr
    assert "valid: a Workspace API token (kpw_…), checksum ok" in valid.stdout
    assert value not in valid.stdout + valid.stderr
    altered = value[:-1] + ("A" if value[-1] != "A" else "B")
    refused = server.cli("token", "check", altered)
    assert refused.code == 1
    assert "its checksum does not match (was it cut short or altered?)" in refused.stderr
    assert altered not in refused.stderr
    piped = server.cli("token", "check", "-", "--output", "json", stdin=value + "\n")
    assert json.loads(piped.stdout) == {"valid": True, "prefix": "kpw_", "kind": "WORKSPACE_TOKEN"}
    other = server.cli("token", "check", "ghp_notours", "--output", "json")
    assert other.code == 1 and json.loads(other.stdout)["valid"] is False


def test_token_report_reads_stdin_and_revokes_a_live_token(server):
    value = new_token(server, "pasted-in-a-ticket")
    assert server.cli("whoami", token=value).code == 0

    live = server.cli("token", "report", stdin=value + "\n")
    random = server.cli(
        "token", "report", stdin=credentials.generate(SecretKind.ORGANIZATION_TOKEN)
    )

    assert live.code == random.code == 0, live.stderr
    assert live.stdout == random.stdout and "revoked" in live.stdout
    assert value not in live.stdout + live.stderr
    gone = server.cli("whoami", token=value)
    assert gone.code == 3, gone.stderr
    malformed = server.cli("token", "report", stdin="not-a-token")
    assert malformed.code == 2 and "not a keyplane token" in malformed.stderr


def test_a_signed_secret_scanning_report_revokes_the_token(server, keys):
    value = new_token(server, "committed-by-mistake")
    body = report_body((value, "https://github.com/acme/etl/blob/main/.env"))
    answer = httpx.post(
        f"{server.url}/v1/secret-scanning/reports", content=body, headers=keys.sign(body)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["token_hash"] == hashlib.sha256(value.encode()).hexdigest()
    assert answer.json()[0]["label"] == "true_positive"
    assert server.cli("whoami", token=value).code == 3
    unsigned = httpx.post(f"{server.url}/v1/secret-scanning/reports", content=body)
    assert unsigned.status_code == 401


def test_token_lists_show_what_expires_soon(server):
    new_token(server, "soon", days=2)
    new_token(server, "not-soon", days=90)
    done = server.cli(
        "organization", "token", "list", "--expiring-within", "7", "-o", "json",
        token=server.acme.owner_token,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    names = {t["name"] for t in json.loads(done.stdout)}
    assert "soon" in names and "not-soon" not in names


def test_admin_notify_run_twice_at_once_mails_each_notice_once(server, tmp_path):
    new_token(server, "expires-in-14", days=14)
    new_token(server, "expires-in-3", days=3)
    with smtp_sink() as (port, received):
        env = {
            "KEYPLANE_DATABASE_URL": server.database_url,
            "KEYPLANE_DATA_DIR": str(tmp_path),
            "KEYPLANE_SMTP_HOST": "127.0.0.1",
            "KEYPLANE_SMTP_PORT": str(port),
            "KEYPLANE_SMTP_STARTTLS": "false",
        }
        runs = server.cli_many([(["admin", "notify"], env), (["admin", "notify"], env)])
        assert [r.code for r in runs] == [0, 0], [r.stderr for r in runs]
        again = server.cli("admin", "notify", **env)
        assert again.code == 0 and "0 expiry notice(s) sent" in again.stderr
        ours = Counter(
            (m["To"], m["Subject"].split("'")[1])
            for m in received
            if "'expires-in-" in m["Subject"]
        )
    assert ours == {
        ("owner@acme.example", "expires-in-14"): 1,
        ("owner@acme.example", "expires-in-3"): 1,
    }
