"""A replica that cannot decrypt the stored signing keys is not ready (issue 11, 17)."""

from __future__ import annotations

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.runtime import Runtime


def test_a_replica_without_the_shared_encryption_keys_is_not_ready(
    world, settings, engine, tmp_path
):
    assert world.client.get("/readyz").json()["checks"]["signingKeys"].startswith("ok")
    world.runtime.oauth.keys.current()  # the first replica made the signing keys
    # Another replica on the same database, started without KEYPLANE_ENCRYPTION_KEYS:
    # it makes an encryption.key of its own, which opens none of them.
    other = Settings(
        database_url=settings.database_url,
        data_dir=tmp_path / "other-replica",
        public_url=settings.public_url,
    )
    runtime = Runtime.create(other, engine=engine)
    try:
        ready = TestClient(create_app(other, runtime)).get("/readyz")
    finally:
        runtime.close()
    assert ready.status_code == 503, ready.text
    assert ready.json()["status"] == "not ready"
    assert "KEYPLANE_ENCRYPTION_KEYS" in ready.json()["checks"]["signingKeys"]


def test_replicas_sharing_the_encryption_keys_are_ready(runtime, settings, engine, tmp_path):
    shared = Fernet.generate_key().decode()
    first = settings.model_copy(update={"encryption_keys": shared})
    second = first.model_copy(update={"data_dir": tmp_path / "second"})
    for each in (first, second):
        runtime = Runtime.create(each, engine=engine)
        try:
            ready = TestClient(create_app(each, runtime)).get("/readyz")
        finally:
            runtime.close()
        assert ready.status_code == 200, ready.text
