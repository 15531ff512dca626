"""Every answer that holds a plaintext secret tells caches not to keep it (issue 11, 16)."""

from __future__ import annotations

from tests.factories import bearer
from tests.functional.oauth.helpers import keys_url


def _no_store(answer) -> None:  # type: ignore[no-untyped-def]
    assert answer.headers["cache-control"] == "no-store", answer.headers
    assert answer.headers["pragma"] == "no-cache"


def test_token_create_and_rotate_are_not_cacheable(world):
    headers = bearer(world.org.owner_token)
    tokens = f"/v1/organizations/{world.org.id}/tokens"
    body = {"name": "ci", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"}
    created = world.client.post(tokens, json=body, headers=headers)
    assert created.status_code == 201 and created.json()["token"]
    _no_store(created)
    rotated = world.client.post(f"{tokens}/{created.json()['id']}/rotate", headers=headers)
    assert rotated.status_code == 200 and rotated.json()["token"]
    _no_store(rotated)
    listed = world.client.get(tokens, headers=headers)  # no secret in it: cacheable as before
    assert "no-store" not in listed.headers.get("cache-control", "")


def test_api_key_create_and_migration_are_not_cacheable(world):
    headers = bearer(world.org.owner_token)
    created = world.client.post(keys_url(world.org), json={"name": "ci"}, headers=headers)
    assert created.status_code == 201 and created.json()["secret"]
    _no_store(created)
    migrated = world.client.post(
        f"/v1/organizations/{world.org.id}/api-keys/migrate", json={}, headers=headers
    )
    assert migrated.status_code == 200, migrated.text
    assert migrated.json()["migrations"][0]["token"]
    _no_store(migrated)
