"""``uploadkit upload`` of a large file against a plain ``curl -T`` to a presigned URL of the same
local server. Run by hand; figures go into docs/sdk.md.

    .venv/bin/python bench/cli_vs_curl.py [--size-mib 1024] [--runs 3]

Starts ``uploadkit serve`` on the embedded default (SQLite, local disk) in a temporary directory,
creates a TEAM account and a route, writes one file of random bytes, then alternates:
- curl: ``POST /upload/request`` (not timed), ``curl -T FILE -H content-type URL`` (timed: the
  PUT alone), ``POST /upload/complete`` (not timed);
- ``uploadkit upload FILE`` with the default 4 parts in flight, and with ``--concurrency 1``
  (timed: the whole command, interpreter start-up, request, parts and complete included);
- the SDK in this process (``UploadKit.upload``), split into sending the parts and the
  ``/upload/multipart/complete`` call that has the server assemble them.
Each uploaded file is deleted afterwards. Reports the median of the runs and the throughput
ratio CLI / curl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_server import live_server

MIB = 1024 * 1024
UPLOADKIT = [sys.executable, "-m", "uploadkit_server"]


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        for offset in range(0, size, 16 * MIB):
            handle.write(os.urandom(min(16 * MIB, size - offset)))


def delete(api: str, key: str, file: dict[str, object]) -> None:
    httpx.delete(f"{api}/files/{quote(str(file['key']), safe='')}", headers={"x-api-key": key})


def curl_once(api: str, key: str, path: Path) -> float:
    headers = {"x-api-key": key}
    body = {
        "fileName": path.name,
        "fileSize": path.stat().st_size,
        "contentType": "application/octet-stream",
        "routeSlug": "bench",
    }
    ticket = httpx.post(f"{api}/upload/request", json=body, headers=headers, timeout=30).json()
    command = ["curl", "-sS", "-f", "-o", "/dev/null", "-T", str(path)]
    command += ["-H", "Content-Type: application/octet-stream", ticket["uploadUrl"]]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    elapsed = time.perf_counter() - started
    done = httpx.post(
        f"{api}/upload/complete", json={"fileId": ticket["fileId"]}, headers=headers, timeout=60
    )
    done.raise_for_status()
    delete(api, key, done.json())
    return elapsed


def cli_once(env: dict[str, str], api: str, key: str, path: Path, *options: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [*UPLOADKIT, "upload", str(path), "--route", "bench", "--json", *options],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    [file] = json.loads(done.stdout)
    assert file["fileSize"] == path.stat().st_size
    delete(api, key, file)
    return elapsed


def sdk_once(api: str, url: str, key: str, path: Path) -> tuple[float, float]:
    """(seconds until the last byte was sent, seconds in total) for an in-process upload."""
    from uploadkit_client import Progress, UploadKit

    last_byte: list[float] = []

    def on_progress(progress: Progress) -> None:
        if progress.bytes_sent == progress.total_bytes:
            last_byte.append(time.perf_counter())

    with UploadKit(key, url, resumable=False) as client:
        started = time.perf_counter()
        file = client.upload(path, route="bench", on_progress=on_progress)
        elapsed = time.perf_counter() - started
    delete(api, key, file)
    return last_byte[-1] - started, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="uploadkit-bench-"))
    try:
        env = {
            **os.environ,
            "UPLOADKIT_DATA_DIR": str(work / "data"),
            "UPLOADKIT_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
            "UPLOADKIT_SECRET_KEY": "bench-secret",
            "UPLOADKIT_STATE_DIR": str(work / "state"),
        }
        created = subprocess.run(
            [
                *UPLOADKIT,
                "admin",
                "create-account",
                "--email",
                "bench@example.com",
                "--tier",
                "team",
                "--json",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = json.loads(created.stdout)["keys"]["live"]
        project = json.loads(created.stdout)["project"]["id"]
        source = work / "payload.bin"
        write_random(source, size)
        with live_server(env, data_dir=work / "data") as server:
            api = server.api
            env |= {"UPLOADKIT_API_KEY": key, "UPLOADKIT_URL": server.url}
            httpx.post(
                f"{api}/projects/{project}/routers",
                json={"slug": "bench", "maxFileSize": "4GB"},
                headers={"x-api-key": key},
            ).raise_for_status()
            times: dict[str, list[float]] = {"curl": [], "cli": [], "cli1": [], "sdk": []}
            transfer: list[float] = []
            for _ in range(args.runs):
                times["curl"].append(curl_once(api, key, source))
                times["cli"].append(cli_once(env, api, key, source))
                times["cli1"].append(cli_once(env, api, key, source, "--concurrency", "1"))
                sent, total = sdk_once(api, server.url, key, source)
                transfer.append(sent)
                times["sdk"].append(total)
        labels = {
            "curl": "curl -T (single PUT)",
            "cli": "uploadkit upload (4 parts in flight)",
            "cli1": "uploadkit upload --concurrency 1",
            "sdk": "UploadKit.upload in process (4 parts)",
        }
        median = {name: statistics.median(samples) for name, samples in times.items()}
        print(
            f"{args.size_mib} MiB, {args.runs} runs each, median wall time; {os.cpu_count()} CPUs"
        )
        for name, label in labels.items():
            rate = size / MIB / median[name]
            runs = ", ".join(f"{t:.2f}" for t in times[name])
            print(f"  {label:40} {median[name]:6.2f} s  {rate:7.1f} MiB/s  (runs: {runs})")
        sending = statistics.median(transfer)
        print(
            f"  SDK: parts sent in {sending:.2f} s ({size / MIB / sending:.1f} MiB/s), "
            f"complete (server assembles the parts) {median['sdk'] - sending:.2f} s"
        )
        print(f"  load average during the run: {os.getloadavg()[0]:.1f}")
        for name in ("cli", "cli1", "sdk"):
            print(f"  throughput ratio {labels[name]} / curl: {median['curl'] / median[name]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
