"""The OpenAPI document and the server agree (issue 11, item 14): what the schema
allows is accepted, what the server refuses the schema refuses too."""

from __future__ import annotations

import pytest

from keyplane.domain.roles import BUILT_IN_ROLES, DEPLOYMENT_PERMISSIONS
from tests.factories import bearer


@pytest.mark.parametrize("value", ["off", "yes", "t", "true", 0.0, 1, 0, None, "false"])
def test_booleans_are_strict(world, value):
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}",
        json={"apiKeysEnabled": value},
        headers=bearer(world.org.owner_token),
    )
    if value is None:  # null: "leave it as it is", as the schema says
        assert answer.status_code == 200, answer.text
        return
    assert answer.status_code == 400, answer.text
    assert "apiKeysEnabled" in answer.json()["fieldErrors"]


@pytest.mark.parametrize("value", [True, False])
def test_json_booleans_are_accepted(world, value):
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}",
        json={"apiKeysEnabled": value},
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["apiKeysEnabled"] is value


def test_405_lists_every_method_of_the_path(world):
    org = f"/v1/organizations/{world.org.id}"
    headers = bearer(world.org.owner_token)
    for path, expected in (
        (f"{org}/workspaces", {"GET", "POST"}),
        (f"{org}/workspaces/{world.org.workspaces['ws1']}", {"GET", "POST", "DELETE"}),
        (f"{org}/tokens/cabc/rotate", {"POST"}),
    ):
        answer = world.client.request("OPTIONS", path, headers=headers)
        assert answer.status_code == 405, answer.text
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert allowed - {"HEAD"} == expected, (path, allowed)


def test_an_empty_sorts_is_ignored(world):
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/workspaces?sorts=",
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_a_blank_name_is_refused_as_the_schema_says(world, name):
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/workspaces",
        json={"name": name},
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 400 and "name" in answer.json()["fieldErrors"]


def test_the_schema_names_roles_permissions_and_name_rules(client):
    schemas = client.get("/v1/openapi.json").json()["components"]["schemas"]
    role = schemas["TokenCreate"]["properties"]["role"]
    assert {"enum": sorted(BUILT_IN_ROLES)} in role["anyOf"]  # or a custom role's name
    assert "custom" in role["description"]
    member_role = schemas["DeploymentRoleIn"]["properties"]["role"]
    assert {"enum": sorted(BUILT_IN_ROLES)} in member_role["anyOf"]
    items = schemas["CustomRoleCreate"]["properties"]["permissions"]["items"]
    assert set(items["enum"]) == {p.value for p in DEPLOYMENT_PERMISSIONS}
    name = schemas["WorkspaceCreate"]["properties"]["name"]
    assert name["minLength"] == 1 and name["pattern"] == r"\S"
    flag = schemas["OrganizationUpdate"]["properties"]["apiKeysEnabled"]
    assert {"type": "boolean"} in flag["anyOf"]
