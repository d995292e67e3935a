"""The request hot path against the framework's floor: ``POST /api/v1/upload/request`` and
``GET /api/v1/files?limit=20`` served by ``uploadkit serve`` (one process), side by side with a
FastAPI + uvicorn app that returns the same JSON bodies and does no work at all.

Run by hand (results go into docs/benchmarks.md)::

    .venv/bin/python bench/api_vs_floor.py                          # SQLite
    .venv/bin/python bench/api_vs_floor.py --database postgres      # PostgreSQL on 127.0.0.1
    .venv/bin/python bench/api_vs_floor.py --seconds 5 --rounds 3 --connections 32
    .venv/bin/python bench/api_vs_floor.py --baseline-src /tmp/before/src  # a 2nd UploadKit
                                                # from another tree, in the same rounds

The server is the installed command, started as a user would (``uploadkit serve``), on a fresh
data directory: an Enterprise account made with ``uploadkit admin create-account`` whose rate
limit is raised out of the way, a catch-all route ``files``. For PostgreSQL a scratch database
is created on the server named by ``--postgres-url`` and dropped afterwards. The floor runs under
the same uvicorn configuration (access log on, output discarded) and answers with the bodies the
real server returned. wrk drives both, the floor and UploadKit alternately, ``--rounds`` times per
endpoint; the machine is shared and noisy, so the medians and the ratio of rounds taken seconds
apart are what compare.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POST_BODY = {
    "fileName": "photo.jpg",
    "fileSize": 1024,
    "contentType": "image/jpeg",
    "routeSlug": "files",
}
FLOOR_APP = """
import json, os
from fastapi import FastAPI, Request
from fastapi.responses import Response

POST = json.loads(os.environ["FLOOR_POST_BODY"])
GET = json.loads(os.environ["FLOOR_GET_BODY"])
app = FastAPI()


@app.post("/api/v1/upload/request")
async def request_upload(request: Request) -> Response:
    await request.body()
    return Response(json.dumps(POST).encode(), media_type="application/json")


@app.get("/api/v1/files")
async def list_files(limit: int = 20) -> Response:
    return Response(json.dumps(GET).encode(), media_type="application/json")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert match, text
    value, unit = float(match[1]), match[2]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, *, script: Path, seconds: float, connections: int) -> Result:
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output)[1])  # type: ignore[index]
    bad_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", output)
    bad = (int(bad_match[1]) if bad_match else 0) + (int(errors[1]) if errors else 0)
    return Result(rps, p50, p99, bad)


def lua_script(path: Path, *, method: str, key: str, body: str | None) -> Path:
    lines = [f'wrk.method = "{method}"', f'wrk.headers["x-api-key"] = "{key}"']
    if body is not None:
        lines += [
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = [[{body}]]",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Postgres:
    """A scratch database on the server at ``url``, dropped by ``drop``."""

    def __init__(self, url: str) -> None:
        self.admin_url = url
        self.name = f"uk_bench_{secrets.token_hex(4)}"
        self.url = url.rsplit("/", 1)[0] + f"/{self.name}"
        self._psql("CREATE DATABASE " + self.name)

    def _psql(self, sql: str) -> None:
        subprocess.run(["psql", self.admin_url, "-qc", sql], check=True, capture_output=True)

    def drop(self) -> None:
        self._psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


@dataclass
class Server:
    """One ``uploadkit serve`` with its own data directory (and database), set up as a user
    would: an Enterprise account, a catch-all route, 30 files so the listing page is full."""

    name: str
    base: str
    key: str
    process: subprocess.Popen[bytes]
    posted: str
    listed: str


def start_uploadkit(
    name: str, work: Path, *, database_url: str | None, source: Path | None
) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "UPLOADKIT_DATA_DIR": str(work / "data"),
        "UPLOADKIT_DATABASE_URL": database_url or f"sqlite:///{work / 'data' / 'uploadkit.db'}",
        "UPLOADKIT_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    for variable in ("UPLOADKIT_REDIS_URL", "UPLOADKIT_STORAGE"):
        env.pop(variable, None)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    command = [
        str(BIN / "uploadkit"),
        "admin",
        "create-account",
        "--email",
        "bench@example.com",
        "--tier",
        "enterprise",
        "--rate-limit",
        "100000000",
        "--json",
    ]
    created = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    account = json.loads(created.stdout)
    key = account["keys"]["live"]
    process = subprocess.Popen(
        [str(BIN / "uploadkit"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/api/v1/files", process)
    with httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=10) as client:
        client.post(
            f"/api/v1/projects/{account['project']['id']}/routers", json={"slug": "files"}
        ).raise_for_status()
        for _ in range(30):
            posted = client.post("/api/v1/upload/request", json=POST_BODY)
            posted.raise_for_status()
        listed = client.get("/api/v1/files", params={"limit": 20})
        listed.raise_for_status()
        assert len(listed.json()["items"]) == 20, listed.json()
    return Server(name, base, key, process, posted.text, listed.text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", choices=["post", "get"], default=None)
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="also serve UploadKit from this source tree (e.g. `git archive <commit> src`) as "
        "'baseline', in the same rounds",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="uk-bench-"))
    databases: list[Postgres] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        sources = {"uploadkit": None}
        if args.baseline_src is not None:
            sources["baseline"] = args.baseline_src.resolve()
        servers: list[Server] = []
        for name, source in sources.items():
            postgres = Postgres(args.postgres_url) if args.database == "postgres" else None
            if postgres is not None:
                databases.append(postgres)
            server = start_uploadkit(
                name,
                work / name,
                database_url=postgres.url if postgres else None,
                source=source,
            )
            processes.append(server.process)
            servers.append(server)

        floor_port = free_port()
        floor_file = work / "floor_app.py"
        floor_file.write_text(FLOOR_APP)
        floor = subprocess.Popen(
            [
                str(BIN / "python"),
                "-c",
                "import uvicorn; uvicorn.run('floor_app:app', host='127.0.0.1', "
                f"port={floor_port}, log_level='info')",
            ],
            cwd=work,
            env={
                **os.environ,
                "FLOOR_POST_BODY": servers[0].posted,
                "FLOOR_GET_BODY": servers[0].listed,
                "PYTHONPATH": str(work),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(floor)
        floor_base = f"http://127.0.0.1:{floor_port}"
        wait_until_up(f"{floor_base}/api/v1/files", floor)

        targets = [("floor", floor_base, servers[0].key)] + [
            (server.name, server.base, server.key) for server in servers
        ]
        scripts = {
            (name, endpoint): lua_script(
                work / f"{name}-{endpoint}.lua",
                method="POST" if endpoint == "post" else "GET",
                key=key,
                body=json.dumps(POST_BODY) if endpoint == "post" else None,
            )
            for name, _, key in targets
            for endpoint in ("post", "get")
        }
        paths = {"post": "/api/v1/upload/request", "get": "/api/v1/files?limit=20"}
        print(
            f"database {args.database}, {args.connections} connections, "
            f"{args.rounds} rounds of {args.seconds:g} s each, alternating"
            + (f" (baseline from {args.baseline_src})" if args.baseline_src else "")
        )
        for endpoint in ["post", "get"] if args.only is None else [args.only]:
            runs: dict[str, list[Result]] = {name: [] for name, _, _ in targets}
            for name, url, _ in targets:  # warm-up
                run_wrk(
                    url + paths[endpoint],
                    script=scripts[name, endpoint],
                    seconds=1,
                    connections=4,
                )
            for round_number in range(args.rounds):
                for name, url, _ in targets:
                    result = run_wrk(
                        url + paths[endpoint],
                        script=scripts[name, endpoint],
                        seconds=args.seconds,
                        connections=args.connections,
                    )
                    runs[name].append(result)
                    print(
                        f"  {endpoint} round {round_number + 1} {name:9} {result.rps:8.0f} req/s  "
                        f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"
                        + (f"  ({result.bad} non-2xx/timeouts)" if result.bad else "")
                    )
            print(f"{paths[endpoint]} ({args.database}):")
            for name, _, _ in targets:
                results = runs[name]
                print(
                    f"  {name:9} median {statistics.median(r.rps for r in results):8.0f} req/s  "
                    f"p50 {statistics.median(r.p50_ms for r in results):7.2f} ms  "
                    f"p99 {statistics.median(r.p99_ms for r in results):7.2f} ms"
                )
            for server in servers:
                ratios = [
                    u.rps / f.rps for f, u in zip(runs["floor"], runs[server.name], strict=True)
                ]
                print(
                    f"  ratio {server.name}/floor: median {statistics.median(ratios):.3f} "
                    f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})"
                )
            if len(servers) == 2:
                ratios = [
                    u.rps / b.rps for u, b in zip(runs["uploadkit"], runs["baseline"], strict=True)
                ]
                print(
                    f"  ratio uploadkit/baseline: median {statistics.median(ratios):.2f} "
                    f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
                )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        for postgres in databases:
            postgres.drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
