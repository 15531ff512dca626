"""No secret value reaches a log record, a database column or a repr.

The test creates, uses, rotates and deletes tokens of every scope, a deployment API
key and an access token issued for it, and reports a live and an unknown value
leaked, with every logger at DEBUG (SQLAlchemy's included, which logs statement
parameters and result rows). Then it looks for each
value, and for the part of it beyond the short excerpt shown in lists, everywhere.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from keyplane.auth.tokens import load_token_principal
from keyplane.db.base import Base
from keyplane.db.models import ApiToken
from keyplane.domain import credentials
from keyplane.domain.credentials import SHORT_LENGTH
from tests.factories import World, bearer


def _use(world: World, value: str, status: int = 200) -> dict[str, Any]:
    answer = world.client.get("/v1/self", headers=bearer(value))
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def exercise(world: World) -> list[str]:
    """Create, use, rotate and delete credentials; every secret value seen on the way."""
    client, org = world.client, world.org
    owner = bearer(org.owner_token)
    secrets = [org.owner_token, world.other.owner_token]
    base = f"/v1/organizations/{org.id}"
    for scope, entity, role in (
        ("ORGANIZATION", None, "ORGANIZATION_OWNER"),
        ("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_OWNER"),
        ("DEPLOYMENT", org.deployments["d1"], "DEPLOYMENT_ADMIN"),
    ):
        value = world.token(scope, entity, role, tokenExpiryPeriodInDays=30)
        secrets.append(value)
        token_id = _use(world, value)["id"]
        client.get(f"{base}/deployments", headers=bearer(value))
        rotated = client.post(f"{base}/tokens/{token_id}/rotate", headers=owner)
        assert rotated.status_code == 200, rotated.text
        new_value = rotated.json()["token"]
        secrets.append(new_value)
        _use(world, value, 401)  # the old value, refused and (as a failure) logged
        _use(world, new_value)
        client.post(f"{base}/tokens/{token_id}", json={"description": "used"}, headers=owner)
    deleted = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    secrets.append(deleted)
    deleted_id = _use(world, deleted)["id"]
    assert client.delete(f"{base}/tokens/{deleted_id}", headers=owner).status_code == 204
    _use(world, deleted, 401)
    _use(world, deleted[:-1] + ("A" if deleted[-1] != "A" else "B"), 401)  # bad checksum

    key = client.post(
        f"{base}/deployments/{org.deployments['d1']}/api-keys", json={"name": "ci"}, headers=owner
    )
    assert key.status_code == 201, key.text
    key_id, key_secret = key.json()["id"], key.json()["secret"]
    secrets.append(key_secret)
    issued = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": key_secret},
    )
    assert issued.status_code == 200, issued.text
    access_token = issued.json()["access_token"]
    secrets.append(access_token)
    _use(world, access_token)
    wrong = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": deleted},
    )
    assert wrong.status_code in (400, 401), wrong.text
    # Leak reports: a live value (revoked) and a well-formed one that never existed.
    leaked = world.token("WORKSPACE", org.workspaces["ws2"], "WORKSPACE_MEMBER")
    unknown = credentials.generate(credentials.SecretKind.WORKSPACE_TOKEN)
    for value in (leaked, unknown):
        secrets.append(value)
        assert client.post("/v1/tokens/report", json={"token": value}).status_code == 202
    _use(world, leaked, 401)
    return secrets


def needles(secrets: list[str]) -> list[str]:
    """Each value, and the part of it beyond the excerpt that lists show."""
    found = []
    for value in secrets:
        found.append(value)
        if value.startswith("kp"):
            found.append(value[4 + SHORT_LENGTH :])
        else:  # a JWT: its signature alone is as good as the whole
            found.append(value.rsplit(".", 1)[-1])
    return found


def table_dump(world: World) -> list[str]:
    cells = []
    with world.runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                cells.extend(
                    f"{table.name}.{column}={value!r}" for column, value in row._mapping.items()
                )
    return cells


def orm_reprs(world: World) -> list[str]:
    found = []
    with world.runtime.sessions() as db:
        for mapper in Base.registry.mappers:
            found.extend(repr(row) for row in db.scalars(select(mapper.class_)))
        for token in db.scalars(select(ApiToken)):
            principal = load_token_principal(db, credentials.SecretHash(token.secret_hash))
            found.append(repr(principal))
            found.append(str(principal))
    return found


def test_no_secret_value_in_logs_database_or_reprs(world, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "keyplane", "uvicorn", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name)
    secrets = exercise(world)
    logs = [
        f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''} "
        f"{getattr(record, '__dict__', {})!r}"
        for record in caplog.records
    ]
    assert any("sqlalchemy.engine" in line for line in logs), "SQL was not logged: test is blind"
    assert any("keyplane.access" in line for line in logs), "no access log: test is blind"
    places = {"log": logs, "database": table_dump(world), "repr": orm_reprs(world)}
    for needle in needles(secrets):
        for where, texts in places.items():
            leaks = [text[:200] for text in texts if needle in text]
            assert not leaks, f"a secret ({needle[:8]}...) appears in the {where}: {leaks[:3]}"


def test_only_sha256_hashes_are_stored(world):
    secrets = exercise(world)
    with world.runtime.engine.connect() as connection:
        stored = {row.secret_hash for row in connection.execute(select(ApiToken.secret_hash))}
    stored_keys = set()
    with world.runtime.engine.connect() as connection:
        from keyplane.apikeys.models import DeploymentApiKey

        stored_keys = {
            row.secret_hash for row in connection.execute(select(DeploymentApiKey.secret_hash))
        }
    live = {credentials.hash_secret(s) for s in secrets if s.startswith("kp")}
    assert stored | stored_keys <= live, "a stored hash is not the SHA-256 of any value handed out"
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in stored | stored_keys)


def test_a_value_pasted_where_an_id_belongs_is_kept_out_of_the_log_and_audit(world, caplog):
    """A script that mixed up its variables sends a token value (or a key secret, or an
    access token) in place of an id: "not found", and neither keyplane's access log nor
    the audit trail keeps the value (only its SHA-256)."""
    caplog.set_level(logging.INFO, logger="keyplane")
    client, org = world.client, world.org
    owner = bearer(org.owner_token)
    base = f"/v1/organizations/{org.id}"
    pasted = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    keys = f"{base}/deployments/{org.deployments['d1']}/api-keys"
    key_secret = client.post(keys, json={"name": "ci"}, headers=owner).json()["secret"]
    jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWEtdG9rZW4tdGhhdC1pcy1sb25n"
    for method, path, value in (
        ("DELETE", f"{base}/tokens/{pasted}", pasted),
        ("POST", f"{base}/tokens/{pasted}/rotate", pasted),
        ("DELETE", f"{keys}/{key_secret}", key_secret),
        ("POST", f"{base}/tokens/{jwt}/rotate", jwt),
    ):
        answer = client.request(method, path, headers=owner)
        assert answer.status_code == 404, answer.text
        assert value not in answer.text
    refused = client.delete(f"{base}/tokens/{pasted}", headers=bearer(org.owner_token[:-1] + "x"))
    assert refused.status_code == 401  # a refused credential's event keeps the path too
    _use(world, pasted)  # still live: nothing was done to it
    access = [r.getMessage() for r in caplog.records if r.name == "keyplane.access"]
    assert len(access) >= 4, "no access log: test is blind"
    events = client.get(f"{base}/audit-logs", params={"limit": 100}, headers=owner).text
    assert "sha256:" + credentials.hash_secret(pasted) in events  # kept as its hash
    for value in (pasted, key_secret, jwt):
        for needle in needles([value]):
            assert not [line for line in access if needle in line], needle[:8]
            assert needle not in events, needle[:8]
            assert not [c for c in table_dump(world) if needle in c], needle[:8]
