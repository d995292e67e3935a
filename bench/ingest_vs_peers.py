"""Ingest of one large PUT: UploadKit's local backend against the Node tus server and nginx's
WebDAV PUT, side by side in one run. Run by hand; figures go into docs/benchmarks.md.

    .venv/bin/python bench/ingest_vs_peers.py [--size-mib 1024] [--rounds 5]
        [--baseline-src DIR]  # also run UploadKit from another source tree (e.g. before a
                              # change) as the peer "uploadkit-baseline", in the same rounds

Each server gets the same file of random bytes over loopback from ``curl`` (so the client costs
the same everywhere), one upload at a time; only the transfer is timed, until the server's
answer:
- UploadKit (``uploadkit serve``, one process, SQLite, local disk): ``POST /upload/request``
  (not timed), ``curl -T`` to the presigned URL (timed: the bytes are hashed, MD5 and SHA-256,
  and fsynced before the ``200``), ``POST /upload/complete`` and a delete (not timed);
- the Node tus server (``@tus/server`` + ``@tus/file-store`` from npm, installed into
  ``--node-prefix`` on first use): a creation ``POST`` (not timed), then one ``PATCH`` of the
  whole file (timed; the file store does not fsync);
- nginx (Debian ``nginx-light``, one worker) with ``dav_methods PUT``: one ``PUT`` (timed; it
  writes the body to a temporary file and renames it, no fsync).
Rounds alternate the order of the servers, since the machine is shared and noisy; the report
gives each server's median throughput and UploadKit's ratio to each peer. A peer that cannot be
installed or started is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_server import free_port, live_server

MIB = 1024 * 1024
UPLOADKIT = [sys.executable, "-m", "uploadkit_server"]
TUS_SCRIPT = Path(__file__).resolve().parent / "peers" / "tus_file_server.mjs"
DEFAULT_NODE_PREFIX = Path.home() / ".cache" / "uploadkit-bench" / "node"


@dataclass
class Peer:
    name: str
    once: Callable[[], float]


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        for offset in range(0, size, 16 * MIB):
            handle.write(os.urandom(min(16 * MIB, size - offset)))


def timed_curl(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", *args], check=True)
    return time.perf_counter() - started


def wait_for_port(port: int, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def uploadkit_peer(
    work: Path, payload: Path, server_src: Path | None, *, name: str = "uploadkit"
) -> Iterator[Peer]:
    data_dir = work / f"{name}-data"
    env = {
        **os.environ,
        "UPLOADKIT_DATA_DIR": str(data_dir),
        "UPLOADKIT_DATABASE_URL": f"sqlite:///{work / name}.db",
        "UPLOADKIT_SECRET_KEY": "bench-secret",
    }
    if server_src is not None:
        env["PYTHONPATH"] = str(server_src)
    command = [*UPLOADKIT, "admin", "create-account", "--email", "bench@example.com"]
    created = subprocess.run(
        [*command, "--tier", "enterprise", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    account = json.loads(created.stdout)
    key, project = account["keys"]["live"], account["project"]["id"]
    headers = {"x-api-key": key}
    with live_server(env, data_dir=data_dir) as server:
        api = server.api
        httpx.post(
            f"{api}/projects/{project}/routers",
            json={"slug": "bench", "maxFileSize": "8GB"},
            headers=headers,
        ).raise_for_status()

        def once() -> float:
            body = {
                "fileName": payload.name,
                "fileSize": payload.stat().st_size,
                "contentType": "application/octet-stream",
                "routeSlug": "bench",
            }
            ticket = httpx.post(f"{api}/upload/request", json=body, headers=headers).json()
            elapsed = timed_curl(
                "-T", str(payload), "-H", "Content-Type: application/octet-stream",
                ticket["uploadUrl"],
            )  # fmt: skip
            done = httpx.post(
                f"{api}/upload/complete",
                json={"fileId": ticket["fileId"]},
                headers=headers,
                timeout=120,
            )
            done.raise_for_status()
            key_path = quote(str(done.json()["key"]), safe="")
            httpx.delete(f"{api}/files/{key_path}", headers=headers).raise_for_status()
            return elapsed

        yield Peer(name, once)


def ensure_tus_modules(prefix: Path) -> Path:
    """The folder holding ``node_modules/@tus/*`` and the server script; installs on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node/npm not installed")
    if not (prefix / "node_modules" / "@tus" / "file-store").exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(prefix), "@tus/server", "@tus/file-store"],
            check=True,
            capture_output=True,
        )
    # ESM resolves packages next to the script, so the script goes where the modules are.
    shutil.copy(TUS_SCRIPT, prefix / TUS_SCRIPT.name)
    return prefix / TUS_SCRIPT.name


@contextmanager
def tus_peer(work: Path, payload: Path, prefix: Path) -> Iterator[Peer]:
    script = ensure_tus_modules(prefix)
    store = work / "tus-files"
    store.mkdir()
    port = free_port()
    with (work / "tus.log").open("wb") as log:
        process = subprocess.Popen(
            ["node", str(script), str(port), str(store)], stdout=log, stderr=log
        )
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"

        def once() -> float:
            created = httpx.post(
                f"{base}/files",
                headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(payload.stat().st_size)},
            )
            created.raise_for_status()
            location = httpx.URL(base).join(created.headers["location"])
            elapsed = timed_curl(
                "-X", "PATCH", "-T", str(payload), "-H", "Tus-Resumable: 1.0.0",
                "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream",
                str(location),
            )  # fmt: skip
            for path in store.iterdir():
                path.unlink()
            return elapsed

        yield Peer("tus-node", once)
    finally:
        process.terminate()
        process.wait(10)


NGINX_CONF = """
user root;
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /dav/ {{
            root {dir}/root;
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"""


@contextmanager
def nginx_peer(work: Path, payload: Path) -> Iterator[Peer]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise RuntimeError("nginx not installed (Debian: apt-get install nginx-light)")
    directory = work / "nginx"
    (directory / "root" / "dav").mkdir(parents=True)
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, port=port))
    with (directory / "stderr.log").open("wb") as log:
        process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(directory)], stderr=log)
    try:
        wait_for_port(port)
        target = f"http://127.0.0.1:{port}/dav/payload.bin"

        def once() -> float:
            elapsed = timed_curl("-T", str(payload), target)
            (directory / "root" / "dav" / "payload.bin").unlink()
            return elapsed

        yield Peer("nginx-webdav", once)
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--node-prefix", type=Path, default=DEFAULT_NODE_PREFIX)
    parser.add_argument("--peers", default="tus-node,nginx-webdav", help="peers to run, or ''")
    args = parser.parse_args()
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="uploadkit-ingest-"))
    try:
        payload = work / "payload.bin"
        write_random(payload, size)
        peers: list[Peer] = []
        skipped: dict[str, str] = {}
        with ExitStack() as stack:
            peers.append(stack.enter_context(uploadkit_peer(work, payload, None)))
            if args.baseline_src is not None:
                baseline = uploadkit_peer(
                    work, payload, args.baseline_src, name="uploadkit-baseline"
                )
                peers.append(stack.enter_context(baseline))
            for name, make in (
                ("tus-node", lambda: tus_peer(work, payload, args.node_prefix)),
                ("nginx-webdav", lambda: nginx_peer(work, payload)),
            ):
                if name not in args.peers.split(","):
                    continue
                try:
                    peers.append(stack.enter_context(make()))
                except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
                    skipped[name] = str(error)
            for peer in peers:
                peer.once()  # warm-up: page cache, first-request costs
            times: dict[str, list[float]] = {peer.name: [] for peer in peers}
            for round_number in range(args.rounds):
                shift = round_number % len(peers)
                for peer in peers[shift:] + peers[:shift]:
                    times[peer.name].append(peer.once())
        median = {name: statistics.median(samples) for name, samples in times.items()}
        source = f" (baseline from {args.baseline_src})" if args.baseline_src else ""
        print(
            f"{args.size_mib} MiB per upload, {args.rounds} alternating rounds after a warm-up, "
            f"median; {os.cpu_count()} CPUs{source}"
        )
        for name, samples in times.items():
            rates = ", ".join(f"{size / MIB / t:.0f}" for t in samples)
            print(f"  {name:14} {size / MIB / median[name]:7.1f} MiB/s  (rounds: {rates})")
        for name, reason in skipped.items():
            print(f"  {name:14} skipped: {reason}")
        for name in median:
            if name != "uploadkit":
                print(f"  ratio uploadkit / {name}: {median[name] / median['uploadkit']:.2f}")
        print(f"  load average after the run: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
