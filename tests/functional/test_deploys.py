"""Deploys: who may push code, what is stored, and that every refusal leaves nothing behind."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import secrets
import tarfile
import time

import pytest
from sqlalchemy import func, select

from keyplane.audit.models import AuditEvent
from keyplane.db.models import ApiToken, Deployment, RoleBinding
from keyplane.db.unit import credentials_changed, unit_of_work
from keyplane.deploys.models import Deploy
from keyplane.deploys.service import prune_bundles
from keyplane.deploys.store import FsspecStore
from keyplane.oauth.access_tokens import issue_user_access_token
from tests.factories import bearer


def bundle(files: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (files or {"dags/hello.py": b"print('hello')\n"}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deploys_url(world, dep="d1", org=None):
    org = org or world.org
    return f"/v1/organizations/{org.id}/deployments/{org.deployments[dep]}/deploys"


def push(world, token, body, dep="d1", **params):
    return world.client.post(
        deploys_url(world, dep),
        content=body,
        params=params,
        headers={**bearer(token), "Content-Type": "application/gzip"},
    )


def stored_files(runtime):
    root = runtime.settings.data_dir / "bundles"
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def deploy_count(runtime):
    with runtime.sessions() as db:
        return db.scalar(select(func.count()).select_from(Deploy))


def assert_nothing_left(runtime):
    assert stored_files(runtime) == []
    assert deploy_count(runtime) == 0


def test_author_token_deploys_and_the_runtime_downloads_it(world, runtime):
    org = world.org
    author = world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_AUTHOR", name="github ci")
    body = bundle()
    digest = hashlib.sha256(body).hexdigest()
    answer = push(world, author, body, description="release 42", sha256=digest)
    assert answer.status_code == 201, answer.text
    deploy = answer.json()
    assert deploy["digest"] == f"sha256:{digest}" and deploy["sizeBytes"] == len(body)
    assert deploy["description"] == "release 42"
    assert deploy["createdBy"]["name"] == "github ci"
    assert deploy["createdBy"]["kind"] == "WORKSPACE_TOKEN"
    assert deploy["credentialFingerprint"] == hashlib.sha256(author.encode()).hexdigest()
    assert stored_files(runtime) == [f"{digest}.tar.gz"]

    listed = world.client.get(deploys_url(world), headers=bearer(author)).json()
    assert [d["id"] for d in listed["deploys"]] == [deploy["id"]]
    inspected = world.client.get(deploys_url(world) + f"/{deploy['id']}", headers=bearer(author))
    assert inspected.json() == deploy

    runtime_token = world.token("DEPLOYMENT", org.deployments["d1"], "DEPLOYMENT_ADMIN")
    download = world.client.get(
        deploys_url(world) + f"/{deploy['id']}/bundle", headers=bearer(runtime_token)
    )
    assert download.status_code == 200
    assert download.content == body
    expected = base64.b64encode(bytes.fromhex(digest)).decode()
    assert download.headers["content-digest"] == f"sha-256=:{expected}:"

    events = world.client.get(
        f"/v1/organizations/{org.id}/audit-logs",
        params={"action": "deploy.*"},
        headers=bearer(org.owner_token),
    ).json()["auditLogs"]
    by_action = {e["action"]: e for e in events}
    pushed = by_action["deploy.create"]
    assert pushed["actor"]["name"] == "github ci"
    assert pushed["actor"]["credentialFingerprint"] == deploy["credentialFingerprint"]
    assert pushed["target"] == {"type": "deploy", "id": deploy["id"]}
    assert pushed["details"]["digest"] == f"sha256:{digest}"
    assert pushed["details"]["params"]["deploymentId"] == org.deployments["d1"]
    assert by_action["deploy.download"]["actor"]["kind"] == "DEPLOYMENT_TOKEN"


def test_same_bytes_are_stored_once(world, runtime):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    body = bundle()
    assert push(world, token, body).status_code == 201
    assert push(world, token, body).status_code == 201
    assert deploy_count(runtime) == 2 and len(stored_files(runtime)) == 1


@pytest.mark.parametrize(
    ("scope", "where", "role", "dep", "status"),
    [
        ("WORKSPACE", "ws1", "WORKSPACE_MEMBER", "d1", 403),  # wrong role
        ("WORKSPACE", "ws2", "WORKSPACE_AUTHOR", "d1", 404),  # a token from another workspace
        ("DEPLOYMENT", "d2", "DEPLOYMENT_ADMIN", "d1", 404),  # another deployment's token
        ("ORGANIZATION", None, "ORGANIZATION_MEMBER", "d1", 404),  # no workspace role at all
    ],
)
def test_refusals_store_nothing(world, runtime, scope, where, role, dep, status):
    org = world.org
    entity = {**org.workspaces, **org.deployments}.get(where) if where else None
    token = world.token(scope, entity, role)
    answer = push(world, token, bundle(), dep=dep)
    assert answer.status_code == status, answer.text
    if status == 403:
        assert answer.json()["message"] == "missing permission deployment:deploy"
    assert_nothing_left(runtime)


def test_a_token_from_another_organization_is_refused(world, runtime):
    answer = push(world, world.other.owner_token, bundle())
    assert answer.status_code == 404
    assert_nothing_left(runtime)


@pytest.fixture
def small_limit(runtime, monkeypatch):
    monkeypatch.setattr(
        runtime, "settings", runtime.settings.model_copy(update={"deploy_max_bytes": 64 * 1024})
    )


def test_oversized_uploads_are_refused_declared_or_streamed(world, runtime, small_limit):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    big = bundle({"data.bin": secrets.token_bytes(200 * 1024)})
    declared = push(world, token, big)
    assert declared.status_code == 413
    assert "limit is 65536 bytes" in declared.json()["message"]

    def chunked():  # no Content-Length: the limit is enforced while streaming
        for start in range(0, len(big), 16 * 1024):
            yield big[start : start + 16 * 1024]

    streamed = world.client.post(
        deploys_url(world),
        content=chunked(),
        headers={**bearer(token), "Content-Type": "application/gzip"},
    )
    assert streamed.status_code == 413
    assert_nothing_left(runtime)
    assert list(runtime.bundle_store.staging_dir.iterdir()) == []
    # Ordinary JSON routes keep the generic limit: the exemption is for uploads only.
    huge = world.client.post(
        f"/v1/organizations/{world.org.id}/workspaces",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={**bearer(world.org.owner_token), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413


def test_an_interrupted_upload_leaves_nothing_behind(world, runtime, app):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    body = bundle({"data.bin": secrets.token_bytes(300 * 1024)})
    messages = [
        {"type": "http.request", "body": body[:100_000], "more_body": True},
        {"type": "http.request", "body": body[100_000:200_000], "more_body": True},
        {"type": "http.disconnect"},  # the client is gone before the end
    ]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": deploys_url(world),
        "raw_path": deploys_url(world).encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/gzip"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert b"upload interrupted" in sent[1]["body"]
    assert_nothing_left(runtime)
    assert list(runtime.bundle_store.staging_dir.iterdir()) == []
    with runtime.sessions() as db:
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "deploy.create"))
    assert event.outcome == "failure"


def test_damaged_or_foreign_bodies_are_refused(world, runtime):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    assert push(world, token, b"PK\x03\x04 a zip file").status_code == 400
    assert push(world, token, b"").status_code == 400
    sent = bundle()
    mismatch = push(world, token, sent, sha256="0" * 64)
    assert mismatch.status_code == 400
    message = mismatch.json()["message"]
    assert "arrived damaged" in message and "not the sha256 the request gave" in message
    assert hashlib.sha256(sent).hexdigest() in message  # what arrived, unscreened
    assert_nothing_left(runtime)


def _tar_gz(*members: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, 1 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("member", "says"),
    [
        (_member("/etc/cron.d/x"), "'/etc/cron.d/x' has an absolute path"),
        (_member("dags/../../x.py"), "'dags/../../x.py' would be unpacked outside"),
        (_member("dags/l", tarfile.SYMTYPE, "/etc/passwd"), "'dags/l' is a link to an absolute"),
        (_member("dags/l", tarfile.SYMTYPE, "../../up"), "'dags/l' is a link to outside"),
        (_member("dags/dev", tarfile.CHRTYPE), "'dags/dev' is a device, a FIFO"),
    ],
)
def test_a_bundle_with_a_member_unsafe_to_unpack_is_refused_naming_it(world, runtime, member, says):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    body = _tar_gz(_member("dags/ok.py"), member)
    refused = push(world, token, body)
    assert refused.status_code == 400, refused.text
    assert says in refused.json()["message"]
    assert "nothing was stored" in refused.json()["message"]
    assert str(runtime.settings.data_dir) not in refused.text  # no server path
    assert_nothing_left(runtime)


def test_a_bundle_that_is_not_a_whole_tar_gz_is_refused(world, runtime):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    whole = bundle({"dags/big.py": secrets.token_bytes(50_000)})
    damaged = bytearray(whole)
    damaged[len(whole) // 2] ^= 0xFF  # one flipped byte inside the compressed data
    trailer = bytearray(whole)
    trailer[-5] ^= 0xFF  # the gzip CRC of the data
    for body in (
        whole[: len(whole) // 2],  # cut short
        bytes(damaged),
        bytes(trailer),
        gzip.compress(b"just text, no tar archive " * 40),
    ):
        refused = push(world, token, body)
        assert refused.status_code == 400, refused.text
        assert "the bundle is not a whole tar.gz" in refused.json()["message"], refused.text
    assert_nothing_left(runtime)
    link = _member("dags/helpers", tarfile.SYMTYPE, "../plugins/helpers.py")
    inside = _tar_gz(_member("plugins/helpers.py"), link)  # a link within the folder
    assert push(world, token, inside).status_code == 201


def test_a_bundle_that_unpacks_past_the_limits_is_refused_before_it_is_read(
    world, runtime, monkeypatch
):
    """Gzip makes a small upload of many empty files, or of a great many zeros (a
    gzip bomb): the read-through stops at the limits, and nothing is stored."""
    limits = {"deploy_max_files": 100, "deploy_max_unpacked_bytes": 1_000_000}
    monkeypatch.setattr(runtime, "settings", runtime.settings.model_copy(update=limits))
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    many = _tar_gz(*(_member(f"dags/{n}.py") for n in range(101)))
    zeros = io.BytesIO()
    with tarfile.open(fileobj=zeros, mode="w:gz") as tar:
        info = tarfile.TarInfo("include/zeros.bin")
        info.size = 1_000_001
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    for body in (many, zeros.getvalue()):
        refused = push(world, token, body)
        assert refused.status_code == 413, refused.text
        message = refused.json()["message"]
        assert "unpacks to more than 100 files or 1000000 bytes" in message
        assert "KEYPLANE_DEPLOY_MAX_FILES" in message and "nothing was stored" in message
    assert_nothing_left(runtime)
    assert (
        push(world, token, _tar_gz(*(_member(f"dags/{n}.py") for n in range(100)))).status_code
        == 201
    )


def as_user(runtime, user_id):
    """A person's login: the short-lived access token a CLI login gets (a USER principal)."""
    return issue_user_access_token(runtime, user_id).access_token


def test_cicd_enforcement_refuses_personal_logins_only(world, runtime):
    org = world.org
    dep_url = f"/v1/organizations/{org.id}/deployments/{org.deployments['d1']}"
    login = as_user(runtime, org.owner_user_id)
    assert world.client.get("/v1/self", headers=bearer(login)).json()["kind"] == "USER"
    assert push(world, login, bundle()).status_code == 201  # not enforced yet

    author = world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    refused = world.client.post(dep_url, json={"isCicdEnforced": True}, headers=bearer(author))
    assert refused.status_code == 403  # switching it needs deployment:update
    operator = world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_OPERATOR")
    switched = world.client.post(dep_url, json={"isCicdEnforced": True}, headers=bearer(operator))
    assert switched.status_code == 200 and switched.json()["isCicdEnforced"] is True

    answer = push(world, login, bundle({"a.py": b"x"}))
    assert answer.status_code == 403
    assert "enforces CI/CD" in answer.json()["message"]
    assert "missingPermission" not in answer.json()  # an owner holds deployment:deploy
    assert push(world, author, bundle({"a.py": b"x"})).status_code == 201
    assert deploy_count(runtime) == 2


def test_bundles_go_to_an_fsspec_store_when_configured(world, runtime, monkeypatch):
    url = f"memory://kp-{secrets.token_hex(4)}"
    monkeypatch.setattr(
        runtime, "settings", runtime.settings.model_copy(update={"deploy_store_url": url})
    )
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    body = bundle()
    created = push(world, token, body).json()
    digest = created["digest"].removeprefix("sha256:")
    import fsspec

    fs = fsspec.filesystem("memory")
    assert fs.cat(f"{url}/{digest[:2]}/{digest}.tar.gz") == body
    assert stored_files(runtime) == []
    download = world.client.get(
        deploys_url(world) + f"/{created['id']}/bundle", headers=bearer(token)
    )
    assert download.content == body
    assert json.loads(json.dumps(created))["sizeBytes"] == len(body)


def _streamed(body, halfway):
    """The body in two pieces, calling ``halfway()`` between them, while it streams (on
    the app's own loop: the change goes straight to the database, as another replica's
    request would make it)."""
    yield body[: len(body) // 2]
    halfway()
    yield body[len(body) // 2 :]


def _change(runtime, change):
    with unit_of_work(runtime.sessions) as db:
        change(db)
        credentials_changed(db)


def test_a_token_deleted_while_its_upload_streams_does_not_deploy(world, runtime):
    token = world.token("DEPLOYMENT", world.org.deployments["d1"], "DEPLOYMENT_ADMIN")
    token_id = world.client.get("/v1/self", headers=bearer(token)).json()["id"]

    def delete_it():
        _change(runtime, lambda db: db.delete(db.get(ApiToken, token_id)))

    answer = push(world, token, _streamed(bundle(), delete_it))

    assert answer.status_code == 401, answer.text
    assert_nothing_left(runtime)


def test_a_token_re_roled_while_its_upload_streams_does_not_deploy(world, runtime):
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    token_id = world.client.get("/v1/self", headers=bearer(token)).json()["id"]

    def demote():
        def change(db):
            for binding in db.scalars(select(RoleBinding).where(RoleBinding.token_id == token_id)):
                binding.role = "WORKSPACE_MEMBER"

        _change(runtime, change)

    answer = push(world, token, _streamed(bundle(), demote))

    assert answer.status_code == 403, answer.text
    assert answer.json()["missingPermission"] == "deployment:deploy"
    assert_nothing_left(runtime)


def test_a_deployment_deleted_while_an_upload_streams_gets_no_deploy(world, runtime):
    dep = world.org.deployments["d1"]

    def delete_it():
        _change(runtime, lambda db: db.delete(db.get(Deployment, dep)))

    answer = push(world, world.org.owner_token, _streamed(bundle(), delete_it))

    assert answer.status_code == 404, answer.text
    assert_nothing_left(runtime)


def test_prune_deletes_the_bundles_of_deleted_deployments_only(world, runtime):
    org = world.org
    owner = world.org.owner_token
    shared, only_d2 = bundle({"a.py": b"shared"}), bundle({"b.py": b"PASSWORD='hunter2'"})
    for dep, body in (("d1", shared), ("d2", shared), ("d2", only_d2)):
        assert push(world, owner, body, dep=dep).status_code == 201
    gone = world.client.delete(
        f"/v1/organizations/{org.id}/deployments/{org.deployments['d2']}", headers=bearer(owner)
    )
    assert gone.status_code == 204
    digests = {hashlib.sha256(b).hexdigest() for b in (shared, only_d2)}
    assert {d for d, _ in runtime.bundle_store.stored()} == digests

    now = time.time()
    assert prune_bundles(runtime.sessions, runtime.bundle_store, 3600, now) == []  # too new
    pruned = prune_bundles(runtime.sessions, runtime.bundle_store, 3600, now + 7200)

    assert pruned == [hashlib.sha256(only_d2).hexdigest()]
    assert [d for d, _ in runtime.bundle_store.stored()] == [hashlib.sha256(shared).hexdigest()]
    kept = world.client.get(deploys_url(world), headers=bearer(owner)).json()
    assert len(kept["deploys"]) == 1  # d1's deploy still downloads
    assert (
        world.client.get(
            f"{deploys_url(world)}/{kept['deploys'][0]['id']}/bundle", headers=bearer(owner)
        ).content
        == shared
    )


def test_an_fsspec_store_lists_and_deletes_its_bundles(tmp_path):
    store = FsspecStore(f"memory://prune-{secrets.token_hex(4)}", tmp_path / "staging")
    staged = tmp_path / "staging" / "x"
    staged.write_bytes(b"bundle")
    digest = hashlib.sha256(b"bundle").hexdigest()
    store.put(staged, digest)
    assert [d for d, _ in store.stored()] == [digest]
    first = store.stored_at(digest)
    time.sleep(0.01)
    staged.write_bytes(b"bundle")
    store.put(staged, digest)  # the same bytes again: stored anew, so prune waits again
    assert (store.stored_at(digest) or 0) > (first or 0)
    store.delete(digest)
    assert list(store.stored()) == [] and not store.exists(digest)
