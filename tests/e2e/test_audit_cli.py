"""``keyplane audit`` as a user runs it: the README's date filters, and exports that
either complete or fail visibly (issue 11, items 12 and 13)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from keyplane.domain import credentials
from keyplane.domain.credentials import SecretKind
from tests.e2e.conftest import Server


def test_audit_list_and_export_take_a_plain_date(server: Server, tmp_path: Path) -> None:
    token = server.acme.owner_token
    assert server.cli("workspace", "create", "--name", "audited", token=token).code == 0
    listed = server.cli("audit", "list", "--since", "2026-11-01", "--output", "json", token=token)
    assert listed.code == 0, listed.stderr
    assert isinstance(listed.json(), list)
    everything = server.cli("audit", "list", "--since", "2000-01-01T00:00", token=token)
    assert everything.code == 0, everything.stderr
    target = tmp_path / "audit.jsonl"
    done = server.cli("audit", "export", "--since", "2000-01-01", "--to", str(target), token=token)
    assert done.code == 0, done.stderr
    events = [json.loads(line) for line in target.read_text().splitlines()]
    assert events and all("action" in event for event in events)  # no closing line kept
    assert f"exported {len(events)} event(s)" in done.stderr + done.stdout
    assert not (tmp_path / "audit.jsonl.partial").exists()


def _cut_server(last_line: bytes) -> ThreadingHTTPServer:
    """A server that answers the audit export with two events and then ``last_line``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/v1/self"):
                me = {"kind": "API_TOKEN", "id": "t", "name": "t", "organizationId": "o"}
                body = json.dumps({**me, "roles": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for line in (b'{"seq": 1, "action": "a"}\n', b'{"seq": 2, "action": "b"}\n', last_line):
                if line:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            if last_line.startswith(b"{"):
                self.wfile.write(b"0\r\n\r\n")  # a clean end, whatever the last line says
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def cut_server(request: pytest.FixtureRequest) -> Iterator[str]:
    httpd = _cut_server(request.param)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    "cut_server",
    [b"", b'{"exportComplete": true, "count": 5}\n'],
    ids=["connection cut", "wrong count"],
    indirect=True,
)
def test_a_cut_export_fails_and_leaves_no_file(
    server: Server, cut_server: str, tmp_path: Path
) -> None:
    target = tmp_path / "audit.jsonl"
    token = credentials.generate(SecretKind.ORGANIZATION_TOKEN)
    done = server.cli("audit", "export", "--to", str(target), token=token, KEYPLANE_URL=cut_server)
    assert done.code == 1, done.stdout + done.stderr
    assert "export was cut short" in done.stderr
    assert "after 2 event(s)" in done.stderr
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "cut_server", [b'{"exportComplete": true, "count": 2}\n'], ids=["complete"], indirect=True
)
def test_a_complete_export_with_its_closing_line_is_written(
    server: Server, cut_server: str, tmp_path: Path
) -> None:
    target = tmp_path / "audit.jsonl"
    token = credentials.generate(SecretKind.ORGANIZATION_TOKEN)
    done = server.cli("audit", "export", "--to", str(target), token=token, KEYPLANE_URL=cut_server)
    assert done.code == 0, done.stdout + done.stderr
    assert [json.loads(line)["seq"] for line in target.read_text().splitlines()] == [1, 2]
