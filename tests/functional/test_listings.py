"""Listings show exactly what the principal may see, page by page, sorted in the query."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from keyplane.domain.roles import Level
from tests.access_oracle import CUSTOM_PERMISSIONS, CUSTOM_ROLE, Held, Target, visible
from tests.factories import World, bearer

ORG, WS, DEP = Level.ORGANIZATION, Level.WORKSPACE, Level.DEPLOYMENT
# (scope, where, role): where is "org", "ws1" or "d1" of the world's organization.
PRINCIPALS = [
    (ORG, "org", "ORGANIZATION_OWNER"),
    (ORG, "org", "ORGANIZATION_MEMBER"),
    (WS, "ws1", "WORKSPACE_OWNER"),
    (WS, "ws1", "WORKSPACE_MEMBER"),
    (WS, "ws1", "WORKSPACE_ACCESSOR"),
    (DEP, "d1", "DEPLOYMENT_ADMIN"),
    (DEP, "d1", CUSTOM_ROLE),
]


def held(world: World, scope: Level, where: str, role: str) -> list[Held]:
    org, ws1 = world.org, world.org.workspaces["ws1"]
    if scope is ORG:
        return [Held(ORG, org.id, org.id, None, role)]
    if scope is WS:
        return [Held(WS, ws1, org.id, ws1, role)]
    return [Held(DEP, org.deployments["d1"], org.id, ws1, role)]


def listed(world: World, token: str, what: str, **params: object) -> dict:
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/{what}", params=params, headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize(("scope", "where", "role"), PRINCIPALS, ids=lambda v: str(v))
def test_listings_show_exactly_what_the_principal_can_see(world, scope, where, role):
    org = world.org
    world.client.post(
        f"/v1/organizations/{org.id}/custom-roles",
        json={"name": CUSTOM_ROLE, "permissions": sorted(CUSTOM_PERMISSIONS)},
        headers=bearer(org.owner_token),
    )
    entity = {"org": None, "ws1": org.workspaces["ws1"], "d1": org.deployments["d1"]}[where]
    token = world.token(scope.value, entity, role)
    bindings = held(world, scope, where, role)
    wanted_ws = {ws for ws in org.workspaces.values() if visible(bindings, Target(WS, org.id, ws))}
    wanted_deps = {
        dep
        for name, dep in org.deployments.items()  # d1 lives in ws1, d2 in ws2
        if visible(bindings, Target(DEP, org.id, org.workspaces[f"ws{name[1]}"], dep))
    }
    workspaces = listed(world, token, "workspaces")
    assert {w["id"] for w in workspaces["workspaces"]} == wanted_ws
    assert workspaces["totalCount"] == len(wanted_ws)
    deployments = listed(world, token, "deployments")
    assert {d["id"] for d in deployments["deployments"]} == wanted_deps
    assert deployments["totalCount"] == len(wanted_deps)


def test_pages_are_sorted_and_sliced_by_the_database(world):
    org, owner = world.org, world.org.owner_token
    ws = org.workspaces["ws1"]
    for name in ("Banana", "apple", "cherry"):
        answer = world.client.post(
            f"/v1/organizations/{org.id}/deployments",
            json={"name": name, "workspaceId": ws},
            headers=bearer(owner),
        )
        assert answer.status_code == 201, answer.text
    names = []
    for offset in range(4):
        page = listed(
            world, owner, "deployments", workspaceId=ws, sorts="name:asc", limit=1, offset=offset
        )
        assert page["totalCount"] == 4 and page["limit"] == 1 and page["offset"] == offset
        names += [d["name"] for d in page["deployments"]]
    assert names == ["apple", "Banana", "cherry", "d1"]  # case-insensitive, as people read
    past = listed(world, owner, "deployments", workspaceId=ws, offset=10)
    assert past["deployments"] == [] and past["totalCount"] == 4
    bad = world.client.get(
        f"/v1/organizations/{org.id}/deployments",
        params={"sorts": "secret:asc"},
        headers=bearer(owner),
    )
    assert bad.status_code == 400 and bad.json()["fieldErrors"] == {"sorts": "invalid sort"}


def test_a_listing_reads_no_more_rows_for_more_that_it_cannot_see(world):
    """The workspace token's query is the same, beside 2 or 42 invisible deployments."""
    org, owner = world.org, world.org.owner_token
    token = world.token(WS.value, org.workspaces["ws1"], "WORKSPACE_MEMBER")

    def statements() -> list[str]:
        seen: list[str] = []

        def note(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(world.runtime.engine, "before_cursor_execute", note)
        try:
            assert listed(world, token, "deployments")["totalCount"] == 1
        finally:
            event.remove(world.runtime.engine, "before_cursor_execute", note)
        return [s for s in seen if "FROM deployments" in s]

    before = statements()
    for n in range(40):
        world.client.post(
            f"/v1/organizations/{org.id}/deployments",
            json={"name": f"hidden{n}", "workspaceId": org.workspaces["ws2"]},
            headers=bearer(owner),
        )
    after = statements()
    assert before == after and len(after) == 1  # the page (it is the last: no count)
    assert all("workspace_id IN" in s for s in after)
