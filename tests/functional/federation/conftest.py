"""A server that trusts the tests' own issuer, and an identity of acme's deployment d1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keyplane.config import Settings
from tests.factories import World
from tests.functional.federation.helpers import AUD, create_identity, identity_body
from tests.workload_issuer import WorkloadIssuer

GITHUB = "https://token.actions.githubusercontent.com"


@pytest.fixture
def settings(db_url: str, tmp_path: Path, workload_issuer: WorkloadIssuer) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path,
        public_url=AUD,
        federation_issuers=f"{GITHUB},https://gitlab.com,{workload_issuer.url}",
    )


@pytest.fixture
def identity(world: World, workload_issuer: WorkloadIssuer) -> dict[str, Any]:
    """DEPLOYMENT_ADMIN on d1 for the test issuer's repository, main branch."""
    body = identity_body(workload_issuer.url, world.org.deployments["d1"])
    return create_identity(world.client, world.org, body)
