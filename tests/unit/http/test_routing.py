"""The router's one-expression check agrees with its routes, route by route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match

from keyplane.http.routing import APIRouter


def _router() -> APIRouter:
    router = APIRouter(prefix="/v1/organizations/{orgId}")

    @router.get("/workspaces")
    def workspaces(orgId: str) -> dict[str, str]:
        return {"org": orgId}

    @router.delete("/workspaces/{workspaceId}")
    def delete(orgId: str, workspaceId: str) -> dict[str, str]:
        return {"deleted": workspaceId}

    return router


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": ""}


def test_paths_of_no_route_are_refused_by_the_expression_alone():
    router = _router()
    assert router.matches(_scope("GET", "/v1/organizations/o1/deployments"))[0] is Match.NONE
    assert router.matches(_scope("GET", "/v1/organizations/o1/workspaces/w1/x"))[0] is Match.NONE
    assert router._any_path() is not None
    assert router._any_path().fullmatch("/v1/organizations/o1/workspaces/w1")  # type: ignore[union-attr]


def test_an_included_router_still_routes_answers_405_and_redirects_slashes():
    app = FastAPI()
    app.include_router(APIRouter(prefix="/health"))  # an empty router before it
    app.include_router(_router())
    client = TestClient(app)
    assert client.get("/v1/organizations/o1/workspaces").json() == {"org": "o1"}
    assert client.delete("/v1/organizations/o1/workspaces/w1").json() == {"deleted": "w1"}
    assert client.get("/v1/organizations/o1/workspaces/w1").status_code == 405
    redirected = client.get("/v1/organizations/o1/workspaces/", follow_redirects=False)
    assert redirected.status_code == 307
    assert client.get("/v1/organizations/o1/nothing").status_code == 404


def test_a_route_added_after_the_first_request_is_found():
    router = _router()
    late = _scope("GET", "/v1/organizations/o1/late")
    assert router.matches(late)[0] is Match.NONE

    @router.get("/late")
    def late_route(orgId: str) -> dict[str, str]:
        return {"late": orgId}

    paths = router._any_path()
    assert paths is not None and paths.fullmatch("/v1/organizations/o1/late")
