import pytest

from keyplane.audit.actions import action_for, target_type_of

ORG = "/v1/organizations/{orgId}"


@pytest.mark.parametrize(
    ("method", "template", "action"),
    [
        ("POST", ORG + "/tokens", "token.create"),
        ("POST", ORG + "/tokens/{tokenId}/rotate", "token.rotate"),
        ("DELETE", ORG + "/deployments/{deploymentId}/api-keys/{keyId}", "api_key.delete"),
        ("POST", ORG + "/workspaces", "workspace.create"),
        ("POST", ORG + "/workspaces/{workspaceId}", "workspace.update"),
        ("DELETE", ORG + "/deployments/{deploymentId}", "deployment.delete"),
        ("POST", ORG, "organization.update"),
        ("POST", ORG + "/deployments/{deploymentId}/variables", "variable.create"),
        ("POST", ORG + "/deployments/{deploymentId}/variables/{key}", "variable.update"),
        ("POST", ORG + "/custom-roles", "custom_role.create"),
        ("POST", "/oauth/device/code", "oauth.device.code"),
        ("GET", ORG + "/workspaces", None),
        ("POST", "/console/orgs/{org_id}/tokens/{token_id}/rotate", "token.rotate"),
        ("POST", "/login", None),
        ("POST", "/console/orgs/{org_id}/members/{user_id}/remove", "member.remove"),
        ("POST", "/login/password", "login.password"),
        ("GET", ORG + "/deployments/{deploymentId}/deploys/{deployId}/bundle", "deploy.download"),
    ],
)
def test_action_names(method, template, action):
    assert action_for(method, template) == action


def test_target_types():
    assert target_type_of("tokenId") == "token"
    assert target_type_of("deploymentId") == "deployment"
    assert target_type_of("keyId") == "api_key"
    assert target_type_of("connectionId") == "sso_connection"
    assert target_type_of("orgId") == "organization"
    assert target_type_of("token_id") == "token"
