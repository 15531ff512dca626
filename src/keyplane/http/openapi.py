"""The error answers of the API in the OpenAPI document (DESIGN §4).

FastAPI documents a 422 with its own validation body, which keyplane never sends:
every error is ``{message, requestId, statusCode, fieldErrors?, missingPermission?}``,
with 400 for invalid input. This replaces that 422 on every /v1 operation with the statuses the
API does answer, all with the one error body, and documents the RFC 6749 error
answers of the OAuth endpoints, so that clients and schema-based tests see what
actually comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from keyplane.http.schemas import ErrorBody

ERRORS = {
    "400": "Invalid input: the message says what, `fieldErrors` says where.",
    "401": "No credentials, or a malformed, unknown, expired, rotated or deleted one.",
    "403": "The caller can see the object but lacks a permission: `missingPermission` names it.",
    "404": "No such object, or one in another organization or otherwise invisible.",
    "429": "Too many failed authentications from this address: retry after Retry-After.",
}
WRITE_ERRORS = {
    "409": "The request conflicts with the current state (a name in use, ...).",
    "413": "The request body is larger than the server accepts.",
}
OAUTH_ERRORS = {
    "400": "RFC 6749 §5.2 error: invalid_request, invalid_grant, unsupported_grant_type, ...",
    "401": "invalid_client: client authentication failed.",
    "429": "Too many failed client authentications: retry after Retry-After.",
}
OAUTH_ERROR_BODY = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "required": ["error"],
}
_REF = {"$ref": "#/components/schemas/ErrorBody"}
_OAUTH_REF = {"$ref": "#/components/schemas/OAuthError"}
_UNUSED = ("HTTPValidationError", "ValidationError")


def _document(schema: dict[str, Any]) -> dict[str, Any]:
    for path, operations in schema.get("paths", {}).items():
        if path.startswith("/oauth/"):
            for operation in operations.values():
                _add(operation.setdefault("responses", {}), OAUTH_ERRORS, _OAUTH_REF)
            continue
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            errors = dict(ERRORS)
            if method in ("post", "put", "patch", "delete"):
                errors |= WRITE_ERRORS
            _add(responses, errors, _REF)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["OAuthError"] = OAUTH_ERROR_BODY
    components["ErrorBody"] = ErrorBody.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}"
    )
    text = str(schema.get("paths"))
    for name in _UNUSED:
        if f"#/components/schemas/{name}'" not in text:
            components.pop(name, None)
    return schema


def _add(responses: dict[str, Any], errors: dict[str, str], ref: dict[str, str]) -> None:
    for status, description in errors.items():
        responses.setdefault(
            status, {"description": description, "content": {"application/json": {"schema": ref}}}
        )


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` document keyplane's error answers."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
