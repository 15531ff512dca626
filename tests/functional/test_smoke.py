from tests.factories import bearer


def test_owner_token_reads_self(world):
    answer = world.client.get("/v1/self", headers=bearer(world.org.owner_token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["kind"] == "ORGANIZATION_TOKEN"
    assert body["roles"] == [
        {"entityType": "ORGANIZATION", "entityId": world.org.id, "role": "ORGANIZATION_OWNER"}
    ]
    assert answer.headers["x-request-id"]


def test_workspace_token_sees_only_its_workspace(world):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OPERATOR")
    answer = world.client.get(f"/v1/organizations/{world.org.id}/workspaces", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert [w["name"] for w in answer.json()["workspaces"]] == ["ws1"]
    other = world.client.get(
        f"/v1/organizations/{world.other.id}/workspaces", headers=bearer(token)
    )
    assert other.status_code == 404
