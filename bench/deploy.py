"""Deploy upload: throughput of a 100 MB bundle against copying the same bytes on disk,
and the server's peak memory while it receives the bundle.

A real ``keyplane server`` process (SQLite, bundles in a temporary data dir) receives
the bundle over loopback from httpx, streamed from a file with its Content-Length.
The baseline copies the same file to the same filesystem with ``shutil.copyfile``.
Each is the best of ``--runs``. For context, the same client also uploads to a bare
ASGI app on the same uvicorn that only hashes and writes the body (no framework, no
auth, no database): the floor of Python HTTP on this machine. The bundle is a real
tar.gz of random files: it cannot be compressed, and the server reads it through
once (gzip and tar) before storing it, as it does every bundle. Memory is the
server's resident set, sampled every 5 ms from /proc during the uploads.

    python -m bench.deploy [--megabytes 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.token_endpoint import free_port, keyplane_with_owner, running

MB = 1024 * 1024
CHUNK = 256 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakSampler:
    """Samples a process's RSS in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app that hashes the body into a file: what any Python server pays."""
    if scope["type"] != "http":
        return
    digest = hashlib.sha256()
    with open(os.environ["KEYPLANE_BENCH_FLOOR_FILE"], "wb") as file:
        while True:
            message = await receive()
            digest.update(message.get("body", b""))
            file.write(message.get("body", b""))
            if not message.get("more_body"):
                break
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": digest.hexdigest().encode()})


@contextmanager
def floor_server(root: Path) -> Iterator[str]:
    port = free_port()
    here = str(Path(__file__).resolve().parent.parent)  # where bench.deploy imports from
    env = {**os.environ, "KEYPLANE_BENCH_FLOOR_FILE": str(root / "floor.bin"), "PYTHONPATH": here}
    serve = [sys.executable, "-m", "uvicorn", "bench.deploy:floor_app", "--port", str(port),
             "--log-level", "warning"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running(serve, env, url):
        yield url


def make_bundle(path: Path, megabytes: int) -> None:
    """A tar.gz of ``megabytes`` random files of 1 MB each (a folder of data files)."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for n in range(megabytes):
            info = tarfile.TarInfo(f"include/data-{n:04}.bin")
            info.size = MB
            tar.addfile(info, io.BytesIO(os.urandom(MB)))


def upload_seconds(client: httpx.Client, path: str, bundle: Path) -> float:
    size = bundle.stat().st_size

    def chunks() -> Iterator[bytes]:
        with bundle.open("rb") as file:
            while block := file.read(CHUNK):
                yield block

    started = time.perf_counter()
    answer = client.post(
        path, content=chunks(),
        headers={"Content-Type": "application/gzip", "Content-Length": str(size)},
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if answer.status_code != 201:
        raise RuntimeError(f"upload failed: {answer.status_code} {answer.text[:200]}")
    return elapsed


def copy_seconds(bundle: Path, target: Path) -> float:
    started = time.perf_counter()
    shutil.copyfile(bundle, target)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def run(megabytes: int = 100, runs: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kp-bench-deploy-") as tmp:
        root = Path(tmp)
        bundle = root / "bundle.tar.gz"
        make_bundle(bundle, megabytes)
        size = bundle.stat().st_size
        copies = [copy_seconds(bundle, root / "copy.bin") for _ in range(runs)]
        (root / "data").mkdir()
        limit = str(4096 * MB)
        with keyplane_with_owner(str(root / "data"), KEYPLANE_DEPLOY_MAX_BYTES=limit) as server:
            org_id, pid = server.org_id, server.pid
            headers = {"Authorization": f"Bearer {server.owner_token}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=300) as client:
                ws = client.post(f"/v1/organizations/{org_id}/workspaces", json={"name": "b"})
                body = {"name": "bench", "workspaceId": ws.json()["id"]}
                dep = client.post(f"/v1/organizations/{org_id}/deployments", json=body)
                path = f"/v1/organizations/{org_id}/deployments/{dep.json()['id']}/deploys"
                idle = rss_bytes(pid)
                with PeakSampler(pid) as sampler:
                    uploads = [upload_seconds(client, path, bundle) for _ in range(runs)]
        with floor_server(root) as url, httpx.Client(base_url=url, timeout=300) as client:
            floors = [upload_seconds(client, "/", bundle) for _ in range(runs)]
    upload_rate = size / min(uploads) / MB
    copy_rate = size / min(copies) / MB
    floor_rate = size / min(floors) / MB
    return {
        "name": "deploy_upload",
        "what": f"{megabytes} MB bundle: streamed upload to one server process vs shutil.copyfile",
        "bundle_bytes": size,
        "upload_mb_per_s": round(upload_rate, 1),
        "copy_mb_per_s": round(copy_rate, 1),
        "ratio": round(upload_rate / copy_rate, 3),
        "bare_asgi_mb_per_s": round(floor_rate, 1),
        "ratio_to_bare_asgi": round(upload_rate / floor_rate, 3),
        "load_average": round(os.getloadavg()[0], 1),
        "server_rss_idle_mb": round(idle / MB, 1),
        "server_rss_peak_mb": round(sampler.peak / MB, 1),
        "server_rss_growth_mb": round((sampler.peak - idle) / MB, 1),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv if argv is not None else [])
    result = run(args.megabytes, args.runs)
    print(
        f"deploy upload ({args.megabytes} MB): {result['upload_mb_per_s']} MB/s vs disk copy "
        f"{result['copy_mb_per_s']} MB/s, ratio {result['ratio']:.2f}x "
        f"(a bare ASGI app that hashes and writes: {result['bare_asgi_mb_per_s']} MB/s, "
        f"keyplane {result['ratio_to_bare_asgi']:.2f}x of it); server RSS peak "
        f"{result['server_rss_peak_mb']} MB ({result['server_rss_growth_mb']:+} MB over idle); "
        f"load average {result['load_average']}"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
