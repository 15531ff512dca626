"""The CLI's workload identity credential: where the job's ID token comes from, the
exchange, its cache, and what a refusal says (DESIGN §5).

A local HTTP server stands in for both ends the CLI talks to: GitHub Actions' ID token
endpoint (``ACTIONS_ID_TOKEN_REQUEST_URL``) and keyplane's ``/oauth/token``. The real
exchange, against a real keyplane server and issuer, is tests/e2e/test_workload_ci.py.
"""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from keyplane.cli import credentials, workload
from keyplane.cli.errors import CliError, ExitCode, NotAuthenticated

REQUEST_TOKEN = "request-token-of-job-1"


@dataclass
class StandIn:
    """What the stand-in was asked, and what it answers next."""

    url: str = ""
    audiences: list[str] = field(default_factory=list)
    exchanges: list[dict[str, str]] = field(default_factory=list)
    refusal: dict[str, str] | None = None
    expires_in: int = 900

    def github_env(self, request_token: str = REQUEST_TOKEN) -> dict[str, str]:
        return {
            "KEYPLANE_URL": self.url,
            "KEYPLANE_WORKLOAD_IDENTITY": "wid_1",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/github?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token,
        }


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if self.headers.get("Authorization", "").removeprefix("Bearer ") != REQUEST_TOKEN:
                self._answer(401, {"message": "bad request token"})
                return
            assert query["api-version"] == ["2.0"]
            state.audiences.append(query["audience"][0])
            self._answer(200, {"value": f"id-token-{len(state.audiences)}"})

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            state.exchanges.append(form)
            if state.refusal:
                self._answer(400, state.refusal)
                return
            answer = {
                "access_token": f"at-{len(state.exchanges)}",
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": state.expires_in,
            }
            self._answer(200, answer)

    return Handler


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def bearer(env: dict[str, str], home: Path) -> Any:
    credential = credentials.resolve({**env, "KEYPLANE_CONFIG_DIR": str(home)})
    assert credential.source.startswith("KEYPLANE_WORKLOAD_IDENTITY")
    return credential.bearer


def test_on_github_a_fresh_id_token_is_exchanged_once_and_cached(
    stand_in: StandIn, tmp_path: Path
) -> None:
    assert bearer(stand_in.github_env(), tmp_path)() == "at-1"
    assert stand_in.audiences == [stand_in.url]  # the audience: KEYPLANE_URL
    (form,) = stand_in.exchanges
    assert form == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": "id-token-1",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "client_id": "wid_1",
    }
    # The job's next command: the cached token, no ID token fetched, no exchange.
    assert bearer(stand_in.github_env(), tmp_path)() == "at-1"
    assert len(stand_in.audiences) == len(stand_in.exchanges) == 1
    (cached,) = (tmp_path / "access-tokens").iterdir()
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert "id-token-1" not in cached.read_text() and REQUEST_TOKEN not in cached.read_text()


def test_another_job_never_reuses_the_cached_token(stand_in: StandIn, tmp_path: Path) -> None:
    assert bearer(stand_in.github_env(), tmp_path)() == "at-1"
    other = stand_in.github_env(request_token="request-token-of-job-2")
    with pytest.raises(NotAuthenticated):  # the stand-in knows job 1's request token only
        bearer(other, tmp_path)()
    assert len(stand_in.exchanges) == 1


def test_an_expiring_token_is_exchanged_again_with_a_fresh_id_token(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.expires_in = 30  # inside the CLI's one-minute margin: never reused
    assert bearer(stand_in.github_env(), tmp_path)() == "at-1"
    assert bearer(stand_in.github_env(), tmp_path)() == "at-2"
    assert [f["subject_token"] for f in stand_in.exchanges] == ["id-token-1", "id-token-2"]


def test_a_refused_cached_token_is_exchanged_again_once(stand_in: StandIn, tmp_path: Path) -> None:
    bearer(stand_in.github_env(), tmp_path)()
    again = bearer(stand_in.github_env(), tmp_path)
    assert again() == "at-1"  # from the cache
    assert again.renew() is True  # after a 401: a fresh ID token, a new exchange
    assert again() == "at-2"
    assert again.renew() is False  # a token just exchanged is not exchanged again
    assert len(stand_in.exchanges) == 2


def test_the_audience_asked_for_can_be_set(stand_in: StandIn, tmp_path: Path) -> None:
    env = {**stand_in.github_env(), "KEYPLANE_OIDC_AUDIENCE": "keyplane prod/&x"}
    bearer(env, tmp_path)()
    assert stand_in.audiences == ["keyplane prod/&x"]


def test_off_github_the_id_token_comes_from_a_variable_or_a_file(
    stand_in: StandIn, tmp_path: Path
) -> None:
    env = {"KEYPLANE_URL": stand_in.url, "KEYPLANE_WORKLOAD_IDENTITY": "wid_1"}
    bearer({**env, "KEYPLANE_ID_TOKEN": "gitlab-token"}, tmp_path)()
    token_file = tmp_path / "token"
    token_file.write_text("k8s-token\n")
    bearer({**env, "KEYPLANE_ID_TOKEN_FILE": str(token_file)}, tmp_path)()
    assert [f["subject_token"] for f in stand_in.exchanges] == ["gitlab-token", "k8s-token"]
    assert stand_in.audiences == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ACTIONS_ID_TOKEN_REQUEST_URL": "u", "KEYPLANE_ID_TOKEN": "t"}, "KEYPLANE_ID_TOKEN"),
        (
            {"ACTIONS_ID_TOKEN_REQUEST_URL": "u", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "r",
             "KEYPLANE_ID_TOKEN": "t"},
            "ACTIONS_ID_TOKEN_REQUEST_URL",
        ),
        ({"KEYPLANE_ID_TOKEN": "t", "KEYPLANE_ID_TOKEN_FILE": "/nonexistent"}, "KEYPLANE_ID_TOKEN"),
    ],
)  # fmt: skip
def test_the_id_token_sources_in_order(env: dict[str, str], expected: str) -> None:
    assert workload.id_token_source(env).name == expected


@pytest.mark.parametrize(
    ("env", "hint"),
    [
        ({"GITHUB_ACTIONS": "true"}, "permissions: id-token: write"),
        ({}, "KEYPLANE_ID_TOKEN"),
        ({"KEYPLANE_ID_TOKEN_FILE": "/nonexistent/token"}, "projected service-account token"),
    ],
)
def test_no_id_token_says_how_to_give_the_job_one(env: dict[str, str], hint: str) -> None:
    full = {"KEYPLANE_URL": "https://kp.example.com", "KEYPLANE_WORKLOAD_IDENTITY": "wid_1"}
    with pytest.raises(NotAuthenticated) as error:
        credentials.resolve({**full, **env})
    assert error.value.hint and hint in error.value.hint
    assert error.value.exit_code == ExitCode.NOT_AUTHENTICATED


def test_the_precedence_puts_a_workload_identity_after_the_key_pair(tmp_path: Path) -> None:
    env = {
        "KEYPLANE_URL": "https://kp.example.com",
        "KEYPLANE_CONFIG_DIR": str(tmp_path),
        "KEYPLANE_WORKLOAD_IDENTITY": "wid_1",
        "KEYPLANE_ID_TOKEN": "t",
    }
    assert (
        credentials.resolve(env).source
        == "KEYPLANE_WORKLOAD_IDENTITY (ID token from KEYPLANE_ID_TOKEN)"
    )
    pair = {**env, "ASTRONOMER_KEY_ID": "k", "ASTRONOMER_KEY_SECRET": "s"}
    assert credentials.resolve(pair).source == "ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET"
    assert credentials.resolve({**pair, "ASTRO_API_TOKEN": "kpw_x"}).source == "ASTRO_API_TOKEN"
    with pytest.raises(CliError, match="KEYPLANE_URL is not set"):
        credentials.resolve({k: v for k, v in env.items() if k != "KEYPLANE_URL"})


def test_on_github_the_cache_is_in_runner_temp(tmp_path: Path) -> None:
    env = {"RUNNER_TEMP": str(tmp_path)}
    assert workload.cache_dir(env, Path("/home/x")) == tmp_path / "keyplane"
    assert workload.cache_dir({}, Path("/home/x")) == Path("/home/x")


def grant_refused(description: str) -> dict[str, str]:
    return {"error": "invalid_grant", "error_description": description}


@pytest.mark.parametrize(
    ("refusal", "says", "hint"),
    [
        (
            grant_refused("condition ref: 'refs/heads/dev' is not allowed"),
            "condition ref: 'refs/heads/dev' is not allowed",
            "--condition CLAIM=VALUE",
        ),
        (
            grant_refused("the token's audience is not this identity's"),
            "audience",
            "KEYPLANE_OIDC_AUDIENCE",
        ),
        (
            grant_refused("jti already exchanged (replay)"),
            "replay",
            "exchanged once",
        ),
        (
            {"error": "invalid_client", "error_description": "unknown workload identity"},
            "KEYPLANE_WORKLOAD_IDENTITY=wid_1 is not a workload identity the server knows",
            "deleted",
        ),
    ],
)  # fmt: skip
def test_a_refusal_names_the_failed_check_and_the_fix(
    stand_in: StandIn, tmp_path: Path, refusal: dict[str, str], says: str, hint: str
) -> None:
    stand_in.refusal = refusal
    with pytest.raises(NotAuthenticated) as error:
        bearer(stand_in.github_env(), tmp_path)()
    assert says in error.value.message
    assert error.value.hint and hint in error.value.hint
    assert error.value.exit_code == ExitCode.NOT_AUTHENTICATED == 3
    shown = f"{error.value.message} {error.value.hint}"
    assert "id-token-1" not in shown and REQUEST_TOKEN not in shown
    assert not (tmp_path / "access-tokens").exists()


def test_the_exchange_repr_holds_no_secret(stand_in: StandIn, tmp_path: Path) -> None:
    exchange = bearer(stand_in.github_env(), tmp_path)
    exchange()
    assert REQUEST_TOKEN not in repr(exchange) and "at-1" not in repr(exchange)
    assert REQUEST_TOKEN not in repr(workload.id_token_source(stand_in.github_env()))
