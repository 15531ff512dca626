"""One-time credentials under concurrency, across two ``keyplane server`` processes.

A refresh token, an authorization code and an approved device code succeed exactly
once however many uses arrive at once; losing a refresh race is reuse and revokes the
login. Concurrent rotations of one API token give one winner; the others answer 409.

Each round holds the credential's row with a transaction of the test's own until all
N requests (split over both servers) wait for it, so that they are certainly in
flight together; then it lets go. PostgreSQL only: SQLite has one writer.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, delete, select, text

from keyplane.db.base import utcnow
from keyplane.db.models import User
from keyplane.db.session import make_engine, make_sessionmaker
from keyplane.db.unit import unit_of_work
from keyplane.domain.credentials import hash_secret
from keyplane.identity import device
from keyplane.identity.models import AuthorizationCode, CliLogin, DeviceAuthorization, RefreshToken
from tests.conftest import PG_URL, drop_postgres_database, fresh_postgres_database
from tests.e2e.conftest import Tenant, bootstrap, free_port, server_env, stop, wait_ready

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not PG_URL, reason="KEYPLANE_TEST_DATABASE_URL is not set: replica tests need PostgreSQL"
    ),
]
ROUNDS = 20
N = 6  # uses per round, half on each server
CLI = "keyplane-cli"
REDIRECT = "http://127.0.0.1:9/callback"


@dataclass
class Pair:
    urls: list[str]
    engine: Engine
    tenant: Tenant
    user_id: str
    clients: list[httpx.Client]

    def add(self, *rows: object) -> None:
        with unit_of_work(make_sessionmaker(self.engine)) as db:
            db.add_all(rows)

    def race(
        self, table: str, row_id: str, send: Callable[[httpx.Client], httpx.Response]
    ) -> list[httpx.Response]:
        """N uses at once: the row is held until every one of them waits for it."""
        with self.engine.connect() as gate, ThreadPoolExecutor(N) as pool:
            gate.execute(text(f"SELECT 1 FROM {table} WHERE id = :id FOR UPDATE"), {"id": row_id})
            futures = [pool.submit(send, self.clients[i % 2]) for i in range(N)]
            _wait_for_waiters(self.engine, N)
            gate.commit()
            return [future.result() for future in futures]


def _wait_for_waiters(engine: Engine, count: int, timeout: float = 20.0) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + timeout
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            if watcher.execute(query).scalar_one() >= count:
                return
            watcher.rollback()
            time.sleep(0.005)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    assert PG_URL
    url, name = fresh_postgres_database(PG_URL)
    data_dir = tmp_path_factory.mktemp("one-time")
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    # One issuer for both, as behind one load balancer.
    env = server_env(url, data_dir, urls[0])
    tenant = bootstrap(env, "acme")  # also migrates the database
    processes = [_start(env, port, data_dir / f"server-{port}.log") for port in ports]
    engine = make_engine(url)
    clients = [httpx.Client(base_url=u, timeout=30) for u in urls]
    try:
        for u, process in zip(urls, processes, strict=True):
            wait_ready(u, process)
            # Load (the first makes) the signing key before any race.
            assert httpx.get(f"{u}/.well-known/jwks.json", timeout=10).status_code == 200
        with engine.connect() as connection:
            user_id = connection.execute(
                select(User.id).where(User.email == "owner@acme.example")
            ).scalar_one()
        yield Pair(urls, engine, tenant, user_id, clients)
    finally:
        for client in clients:
            client.close()
        for process in processes:
            stop(process)
        engine.dispose()
        drop_postgres_database(PG_URL, name)


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "keyplane", "server", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _token(client: httpx.Client, **form: str) -> httpx.Response:
    return client.post("/oauth/token", data={"client_id": CLI, **form})


def _one_winner(answers: list[httpx.Response], loser_status: int) -> httpx.Response:
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [loser_status] * (N - 1), [a.text for a in answers]
    return next(answer for answer in answers if answer.status_code == 200)


def test_a_refresh_token_is_spent_once_and_a_lost_race_revokes_the_login(pair: Pair) -> None:
    for _ in range(ROUNDS):
        login = CliLogin(
            user_id=pair.user_id,
            client_id=CLI,
            method="device_code",
            expires_at=utcnow() + timedelta(days=1),
        )
        value = "kpr_" + secrets.token_urlsafe(32)
        pair.add(login)
        refresh = RefreshToken(login_id=login.id, secret_hash=hash_secret(value))
        pair.add(refresh)

        answers = pair.race(
            "refresh_tokens",
            refresh.id,
            lambda client: _token(client, grant_type="refresh_token", refresh_token=value),
        )
        winner = _one_winner(answers, 400)
        assert {a.json()["error"] for a in answers if a.status_code == 400} == {"invalid_grant"}
        with pair.engine.connect() as connection:  # reuse: the whole chain is revoked
            assert (
                connection.execute(select(CliLogin.id).where(CliLogin.id == login.id)).first()
                is None
            )
        again = _token(
            pair.clients[0],
            grant_type="refresh_token",
            refresh_token=winner.json()["refresh_token"],
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_an_authorization_code_is_redeemed_once(pair: Pair) -> None:
    for _ in range(ROUNDS):
        code, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        row = AuthorizationCode(
            code_hash=hash_secret(code),
            user_id=pair.user_id,
            client_id=CLI,
            redirect_uri=REDIRECT,
            code_challenge=base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
            expires_at=utcnow() + timedelta(seconds=60),
        )
        pair.add(row)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        }
        answers = pair.race("authorization_codes", row.id, lambda client: _token(client, **form))
        _one_winner(answers, 400)
        assert {a.json()["error"] for a in answers if a.status_code == 400} == {"invalid_grant"}


def test_an_approved_device_code_gives_one_login(pair: Pair) -> None:
    for _ in range(ROUNDS):
        code = secrets.token_urlsafe(32)
        row = DeviceAuthorization(
            device_code_hash=hash_secret(code),
            user_code=device.new_user_code(),
            client_id=CLI,
            expires_at=utcnow() + timedelta(minutes=5),
            status="approved",
            user_id=pair.user_id,
        )
        pair.add(row)
        answers = pair.race(
            "device_authorizations",
            row.id,
            lambda client: _token(client, grant_type=device.GRANT_TYPE, device_code=code),
        )
        _one_winner(answers, 400)
        assert {a.json()["error"] for a in answers if a.status_code == 400} == {"invalid_grant"}
        with pair.engine.connect() as connection:
            logins = connection.execute(
                select(CliLogin.id).where(
                    CliLogin.user_id == pair.user_id, CliLogin.method == "device_code"
                )
            ).all()
        assert len(logins) == 1
        with unit_of_work(make_sessionmaker(pair.engine)) as db:
            db.execute(delete(CliLogin))


def test_concurrent_rotations_of_a_token_give_one_winner(pair: Pair) -> None:
    owner = {"Authorization": f"Bearer {pair.tenant.owner_token}"}
    base = f"/v1/organizations/{pair.tenant.org_id}/tokens"
    created = pair.clients[0].post(
        base, json={"name": "raced", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"},
        headers=owner,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    token_id = created.json()["id"]
    for _ in range(ROUNDS):
        answers = pair.race(
            "api_tokens",
            token_id,
            lambda client: client.post(f"{base}/{token_id}/rotate", headers=owner),
        )
        winner = _one_winner(answers, 409)
        value = winner.json()["token"]
        for client in pair.clients:
            me = client.get("/v1/self", headers={"Authorization": f"Bearer {value}"})
            assert me.status_code == 200, me.text


def test_concurrent_migrations_of_a_deployments_keys_migrate_each_key_once(pair: Pair) -> None:
    owner = {"Authorization": f"Bearer {pair.tenant.owner_token}"}
    org = f"/v1/organizations/{pair.tenant.org_id}"
    api = pair.clients[0]
    workspace = api.post(f"{org}/workspaces", json={"name": "keys"}, headers=owner).json()
    deployment = api.post(
        f"{org}/deployments", json={"name": "keys", "workspaceId": workspace["id"]}, headers=owner
    ).json()
    keys = f"{org}/deployments/{deployment['id']}/api-keys"
    for _ in range(ROUNDS):
        made = [api.post(keys, json={"name": f"k{n}"}, headers=owner).json() for n in range(2)]
        answers = pair.race(
            "deployment_api_keys",
            made[0]["id"],
            lambda client: client.post(
                f"{org}/api-keys/migrate", json={"deploymentId": deployment["id"]}, headers=owner
            ),
        )
        winner = _one_winner(answers, 409)
        assert sorted(m["keyId"] for m in winner.json()["migrations"]) == sorted(
            k["id"] for k in made
        )
    tokens = api.get(
        f"{org}/tokens", params={"deploymentId": deployment["id"], "limit": 100}, headers=owner
    ).json()
    assert tokens["totalCount"] == 2 * ROUNDS, "a key was migrated more than once"
