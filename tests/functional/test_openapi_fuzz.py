"""schemathesis over /v1/openapi.json, in-process against the ASGI app, with an owner token.

Every operation of the published schema gets a few generated requests, valid and
invalid ones, with the caller's real organization, workspace and deployment ids in
the path so that requests reach past the 404s. No answer may be a 5xx, and every
answer, errors included, must have a status, media type and body the document
declares for it.
Bounded: few examples per operation and a fixed seed (derandomize), so runs repeat.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import World, bearer

EXAMPLES = 5
STREAMED = {"application/gzip", "application/octet-stream"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    print_blob=False,
)


def _fuzz(
    operation: Any, mode: GenerationMode, path: dict[str, str], headers: dict[str, str]
) -> None:
    wanted = {name: value for name, value in path.items() if f"{{{name}}}" in operation.path}

    @BOUNDED
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=wanted or None))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_no_5xx_and_no_schema_violation(app, world: World):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", app)
    path = {
        "orgId": world.org.id,
        "workspaceId": world.org.workspaces["ws1"],
        "deploymentId": world.org.deployments["d1"],
    }
    headers = bearer(world.org.owner_token)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        if any(alt.media_type in STREAMED for alt in operation.body):
            continue  # raw uploads: the deploy tests send real bundles
        modes = [GenerationMode.POSITIVE]
        if len(operation.body) or len(operation.query):  # with fixed paths, nothing else to negate
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                _fuzz(operation, mode, path, headers)
            except Unsatisfiable:
                continue  # no invalid value to make for this operation
            except (Exception, BaseExceptionGroup) as error:  # collect them all, fail once
                failures.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {error}"
                )
    assert not failures, f"{len(failures)} operations failed:\n" + "\n\n".join(failures)
