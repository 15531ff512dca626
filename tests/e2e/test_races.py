"""Races across two ``keyplane server`` processes on one PostgreSQL database.

A refresh token, an authorization code and an approved device code succeed exactly
once however many uses arrive at once; losing a refresh race is reuse and revokes the
login. Concurrent rotations of one API token give one winner; the others answer 409.
Changes that check, then act (the last owner, an empty workspace, one member's or
token's roles, a delete) take turns: no answer is a 500, none is made void by another.

Each round holds rows the requests need with a transaction of the test's own until
all of them (split over both servers) wait, so that they are certainly in flight
together; then it lets go. PostgreSQL only: SQLite has one writer.
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
        gate = f"SELECT 1 FROM {table} WHERE id = :id FOR UPDATE"
        return self.race_all(gate, {"id": row_id}, [send] * N)

    def race_all(
        self,
        gate: str,
        params: dict[str, object],
        sends: list[Callable[[httpx.Client], httpx.Response]],
    ) -> list[httpx.Response]:
        """``sends`` at once, while ``gate`` (a locking select) holds what they need,
        until each of them waits for a lock."""
        with self.engine.connect() as holder, ThreadPoolExecutor(len(sends)) as pool:
            holder.execute(text(gate), params)
            futures = [pool.submit(send, self.clients[i % 2]) for i, send in enumerate(sends)]
            _wait_for_waiters(self.engine, len(sends))
            holder.commit()
            return [future.result() for future in futures]


_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def _waiting(engine: Engine) -> int:
    """How many of the database's sessions wait for a lock now."""
    with engine.connect() as watcher:
        return int(watcher.execute(_WAITING).scalar_one())


def _wait_for_waiters(engine: Engine, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            if watcher.execute(_WAITING).scalar_one() >= count:
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


def _one_winner(
    answers: list[httpx.Response], loser_status: int, winner_status: int = 200
) -> httpx.Response:
    """The one answer with ``winner_status``; every other one has ``loser_status``."""
    statuses = sorted(answer.status_code for answer in answers)
    expected = sorted([winner_status] + [loser_status] * (len(answers) - 1))
    assert statuses == expected, [a.text for a in answers]
    return next(answer for answer in answers if answer.status_code == winner_status)


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


def _api(pair: Pair) -> tuple[httpx.Client, str, dict[str, str]]:
    owner = {"Authorization": f"Bearer {pair.tenant.owner_token}"}
    return pair.clients[0], f"/v1/organizations/{pair.tenant.org_id}", owner


def _invite(pair: Pair, email: str, role: str) -> str:
    api, org, owner = _api(pair)
    made = api.post(f"{org}/invites", json={"email": email, "role": role}, headers=owner)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_two_owners_removed_at_once_leave_one(pair: Pair) -> None:
    api, org, owner = _api(pair)
    survivor = _invite(pair, "owner-0@acme.example", "ORGANIZATION_OWNER")
    member = {"organizationRole": "ORGANIZATION_MEMBER", "workspaceRoles": []}
    stepped_down = api.post(f"{org}/users/{pair.user_id}/roles", json=member, headers=owner)
    assert stepped_down.status_code == 200, stepped_down.text
    gate = "SELECT 1 FROM role_bindings WHERE user_id IN (:a, :b) FOR UPDATE"
    for n in range(1, ROUNDS + 1):
        owners = [survivor, _invite(pair, f"owner-{n}@acme.example", "ORGANIZATION_OWNER")]
        answers = pair.race_all(
            gate,
            {"a": owners[0], "b": owners[1]},
            [lambda c, u=u: c.delete(f"{org}/users/{u}", headers=owner) for u in owners],
        )
        statuses = [a.status_code for a in answers]
        assert sorted(statuses) == [204, 409], [a.text for a in answers]
        survivor = owners[statuses.index(409)]
    listed = api.get(f"{org}/users", params={"limit": 100}, headers=owner).json()["users"]
    assert [u["id"] for u in listed if u["organizationRole"] == "ORGANIZATION_OWNER"] == [survivor]


def test_a_workspace_deleted_while_a_deployment_is_made_in_it_keeps_or_refuses_it(
    pair: Pair,
) -> None:
    api, org, owner = _api(pair)
    for n in range(ROUNDS):
        ws = api.post(f"{org}/workspaces", json={"name": f"brief-{n}"}, headers=owner).json()["id"]
        made, deleted = pair.race_all(
            "SELECT 1 FROM workspaces WHERE id = :id FOR UPDATE",
            {"id": ws},
            [
                lambda c, ws=ws: c.post(
                    f"{org}/deployments", json={"name": "d", "workspaceId": ws}, headers=owner
                ),
                lambda c, ws=ws: c.delete(f"{org}/workspaces/{ws}", headers=owner),
            ],
        )
        outcome = (made.status_code, deleted.status_code)
        assert outcome in {(201, 409), (404, 204)}, (made.text, deleted.text)
        if made.status_code == 201:
            kept = api.get(f"{org}/deployments/{made.json()['id']}", headers=owner)
            assert kept.status_code == 200, kept.text


def test_parallel_deletes_of_a_token_delete_it_once(pair: Pair) -> None:
    api, org, owner = _api(pair)
    for n in range(ROUNDS):
        body = {"name": f"doomed-{n}", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"}
        token_id = api.post(f"{org}/tokens", json=body, headers=owner).json()["id"]
        answers = pair.race(
            "api_tokens", token_id, lambda c: c.delete(f"{org}/tokens/{token_id}", headers=owner)
        )
        _one_winner(answers, 404, 204)
        events = api.get(
            f"{org}/audit-logs", params={"action": "token.delete", "targetId": token_id},
            headers=owner,
        ).json()["auditLogs"]  # fmt: skip
        assert [e["outcome"] for e in events].count("success") == 1, events


def test_parallel_role_changes_of_one_member_take_turns(pair: Pair) -> None:
    api, org, owner = _api(pair)
    user_id = _invite(pair, "changing@acme.example", "ORGANIZATION_MEMBER")
    roles = ["ORGANIZATION_MEMBER", "ORGANIZATION_BILLING_ADMIN"]
    for _ in range(ROUNDS // 2):
        answers = pair.race_all(
            "SELECT 1 FROM role_bindings WHERE user_id = :id FOR UPDATE",
            {"id": user_id},
            [
                lambda c, r=roles[i % 2]: c.post(
                    f"{org}/users/{user_id}/roles",
                    json={"organizationRole": r, "workspaceRoles": []},
                    headers=owner,
                )
                for i in range(N)
            ],
        )
        assert [a.status_code for a in answers] == [200] * N, [a.text for a in answers]
        now = api.get(f"{org}/users/{user_id}", headers=owner).json()
        assert now["organizationRole"] in roles


def test_a_workspace_role_given_while_the_member_is_removed_leaves_them_no_role(
    pair: Pair,
) -> None:
    """The role is held up after the member was read and before it is written (its
    insert waits for the workspace's row); the member is removed meanwhile."""
    api, org, owner = _api(pair)
    ws = api.post(f"{org}/workspaces", json={"name": "leaving"}, headers=owner).json()["id"]
    for n in range(ROUNDS // 4):
        email = f"leaving-{n}@acme.example"
        user_id = _invite(pair, email, "ORGANIZATION_MEMBER")
        body = {"email": email, "role": "WORKSPACE_MEMBER"}
        with pair.engine.connect() as holder, ThreadPoolExecutor(2) as pool:
            holder.execute(text("SELECT 1 FROM workspaces WHERE id = :id FOR UPDATE"), {"id": ws})
            given = pool.submit(api.post, f"{org}/workspaces/{ws}/users", json=body, headers=owner)
            _wait_for_waiters(pair.engine, 1)
            removed = pool.submit(pair.clients[1].delete, f"{org}/users/{user_id}", headers=owner)
            deadline = time.monotonic() + 20
            while not removed.done() and _waiting(pair.engine) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            holder.commit()
            answers = given.result(), removed.result()
        assert [a.status_code for a in answers] == [201, 204], [a.text for a in answers]
        with pair.engine.connect() as connection:
            left = connection.execute(
                text("SELECT role FROM role_bindings WHERE user_id = :id"), {"id": user_id}
            ).all()
        assert left == [], f"round {n}: a removed member still holds {left}"


def test_parallel_invitations_of_one_address_make_one_member(pair: Pair) -> None:
    _, org, owner = _api(pair)
    for n in range(ROUNDS // 2):
        body = {"email": f"wanted-{n}@acme.example", "role": "ORGANIZATION_MEMBER"}
        answers = pair.race_all(
            "SELECT 1 FROM organizations WHERE id = :id FOR UPDATE",
            {"id": pair.tenant.org_id},
            [lambda c: c.post(f"{org}/invites", json=body, headers=owner)] * N,
        )
        _one_winner(answers, 409, 201)


def test_a_variable_changed_and_deleted_at_once_is_never_a_500(pair: Pair) -> None:
    api, org, owner = _api(pair)
    workspace = api.post(f"{org}/workspaces", json={"name": "vars"}, headers=owner).json()
    deployment = api.post(
        f"{org}/deployments", json={"name": "vars", "workspaceId": workspace["id"]}, headers=owner
    ).json()
    variables = f"{org}/deployments/{deployment['id']}/variables"
    for n in range(ROUNDS // 2):
        made = api.post(variables, json={"key": f"V{n}", "value": "1"}, headers=owner)
        assert made.status_code == 201, made.text
        one = f"{variables}/V{n}"
        sends = [lambda c: c.post(one, json={"value": "2"}, headers=owner)] * 2
        sends += [lambda c: c.delete(one, headers=owner)] * 2
        gate = "SELECT 1 FROM deployment_variables WHERE key = :key FOR UPDATE"
        answers = pair.race_all(gate, {"key": f"V{n}"}, sends)
        updates, deletes = (
            [a.status_code for a in answers[:2]],
            [a.status_code for a in answers[2:]],
        )
        assert sorted(deletes) == [204, 404], [a.text for a in answers]
        assert set(updates) <= {200, 404}, [a.text for a in answers]


def test_a_custom_role_deleted_while_granted_is_kept_or_held_by_no_one(pair: Pair) -> None:
    api, org, owner = _api(pair)
    workspace = api.post(f"{org}/workspaces", json={"name": "custom"}, headers=owner).json()
    deployment = api.post(
        f"{org}/deployments", json={"name": "custom", "workspaceId": workspace["id"]},
        headers=owner,
    ).json()  # fmt: skip
    for n in range(ROUNDS // 2):
        role = api.post(
            f"{org}/custom-roles",
            json={"name": f"Reader {n}", "permissions": ["deployment:read"]},
            headers=owner,
        )
        assert role.status_code == 201, role.text
        grant = {"name": f"reader-{n}", "scope": "DEPLOYMENT", "entityId": deployment["id"],
                 "role": f"Reader {n}"}  # fmt: skip
        sends = [lambda c: c.post(f"{org}/tokens", json=grant, headers=owner)] * 2
        sends += [lambda c: c.delete(f"{org}/custom-roles/{role.json()['id']}", headers=owner)]
        gate = "SELECT 1 FROM custom_roles WHERE id = :id FOR UPDATE"
        answers = pair.race_all(gate, {"id": role.json()["id"]}, sends)
        grants, deleted = tuple(a.status_code for a in answers[:2]), answers[2].status_code
        assert (deleted, grants) in {(204, (400, 400)), (409, (201, 201))}, [
            a.text for a in answers
        ]
        tokens = api.get(f"{org}/tokens", params={"limit": 1000}, headers=owner).json()
        holders = [t for t in tokens["tokens"] if t["name"] == f"reader-{n}"]
        assert len(holders) == (0 if deleted == 204 else 2), holders


# (collection, body of a new one given its round, its table, a change to it): each
# answers 404 for all but one delete and for a change after it, never a 500.
CHANGED_AND_DELETED = {
    "workspace": ("workspaces", lambda n, ws: {"name": f"passing-{n}"}, "workspaces",
                  {"description": "moved"}),
    "deployment": ("deployments", lambda n, ws: {"name": f"brief-{n}", "workspaceId": ws},
                   "deployments", {"description": "moved"}),
    "workload_identity": (
        "workload-identities",
        lambda n, ws: {"name": f"ci-{n}", "issuer": "https://token.actions.githubusercontent.com",
                       "conditions": {"repository_id": "123456"}, "scope": "ORGANIZATION",
                       "role": "ORGANIZATION_MEMBER"},
        "workload_identities", {"description": "moved"}),
    "sso_connection": (
        "sso-connections",
        lambda n, ws: {"name": f"IdP {n}", "issuer": "https://idp.example.com", "clientId": "kp",
                       "clientSecret": "s3cret-value", "domains": [f"sso{n}.example"]},
        "sso_connections", {"name": "Renamed IdP"}),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(CHANGED_AND_DELETED))
def test_a_change_and_deletes_at_once_delete_once(pair: Pair, kind: str) -> None:
    api, org, owner = _api(pair)
    collection, body, table, change = CHANGED_AND_DELETED[kind]
    workspace = api.post(f"{org}/workspaces", json={"name": f"home-{kind}"}, headers=owner)
    for n in range(ROUNDS // 2):
        made = api.post(f"{org}/{collection}", json=body(n, workspace.json()["id"]), headers=owner)
        assert made.status_code == 201, made.text
        one = f"{org}/{collection}/{made.json()['id']}"
        sends = [lambda c: c.post(one, json=change, headers=owner)] * 2
        sends += [lambda c: c.delete(one, headers=owner)] * 3
        gate = f"SELECT 1 FROM {table} WHERE id = :id FOR UPDATE"
        answers = pair.race_all(gate, {"id": made.json()["id"]}, sends)
        deletes = sorted(a.status_code for a in answers[2:])
        assert deletes == [204, 404, 404], [a.text for a in answers]
        assert {a.status_code for a in answers[:2]} <= {200, 404}, [a.text for a in answers]
        events = api.get(
            f"{org}/audit-logs",
            params={"action": f"{kind}.delete", "targetId": made.json()["id"]},
            headers=owner,
        ).json()["auditLogs"]
        assert [e["outcome"] for e in events].count("success") == 1, events
