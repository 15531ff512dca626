"""Access tokens for users (issued by other areas: CLI login, device flow)."""

from __future__ import annotations

from keyplane.db.unit import unit_of_work
from keyplane.oauth.access_tokens import issue_user_access_token
from tests.factories import bearer
from tests.functional.oauth.helpers import claims


def test_user_token_acts_with_the_users_current_roles(world):
    issued = issue_user_access_token(world.runtime, world.org.owner_user_id)
    assert claims(issued.access_token)["client_id"] == "keyplane-cli"
    me = world.client.get("/v1/self", headers=bearer(issued.access_token))
    assert me.status_code == 200, me.text
    assert me.json()["kind"] == "USER"
    assert me.json()["id"] == world.org.owner_user_id
    assert {r["role"] for r in me.json()["roles"]} == {"ORGANIZATION_OWNER"}
    assert "deprecation" not in me.headers


def test_user_token_from_a_session_in_a_service(world):
    with world.runtime.sessions() as db:
        issued = issue_user_access_token(
            world.runtime, world.org.owner_user_id, db=db, session_id="s1"
        )
    assert claims(issued.access_token)["sid"] == "s1"
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}", headers=bearer(issued.access_token)
    )
    assert answer.status_code == 200, answer.text


def test_removed_user_token_stops_working(world):
    issued = issue_user_access_token(world.runtime, world.org.owner_user_id)
    assert world.client.get("/v1/self", headers=bearer(issued.access_token)).status_code == 200
    from keyplane.db.models import User
    from keyplane.db.unit import credentials_changed

    with unit_of_work(world.runtime.sessions) as db:
        db.delete(db.get(User, world.org.owner_user_id))
        credentials_changed(db)
    answer = world.client.get("/v1/self", headers=bearer(issued.access_token))
    assert answer.status_code == 401
    assert "no longer exists" in answer.json()["message"]
