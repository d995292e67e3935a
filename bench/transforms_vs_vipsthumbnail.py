"""First-time image variants through HTTP vs ``vipsthumbnail`` vs Pillow, and cached variants
vs a plain CDN GET of an object of the same size, side by side in one run. Figures go into
docs/benchmarks.md and docs/transforms.md.

    .venv/bin/python bench/transforms_vs_vipsthumbnail.py [--runs 5] [--wrk-seconds 5]

Starts ``uploadkit serve`` on the embedded default (SQLite, local disk) in a temporary directory,
creates a TEAM account and a route, and generates four photo-like images with libvips (a
gradient with noise): 12 MP (4000x3000) and 2 MP (1632x1224), each as JPEG (Q 90) and PNG.
Each is uploaded through the SDK. Then, per image and run, interleaved:

- HTTP cold: ``POST /transforms/image`` for a recipe not generated yet (not timed), then the
  ``GET`` of its URL (timed: the server reads the original from storage, decodes with
  shrink-on-load, resizes, encodes, stores the variant and streams it back);
- ``vipsthumbnail SRC -s WIDTHx -o OUT.jpg[Q=80,strip]`` (timed: the whole command, Debian's
  libvips-tools, a process per image as a pipeline would run it);
- Pillow in this process: ``Image.open``, ``thumbnail((WIDTH, …))`` (which uses JPEG draft
  mode, Pillow's shrink-on-load), ``save(JPEG, quality=80)``.

All three make the same output: width 800 (+ the run number, so every HTTP request is a new
variant), aspect kept, JPEG quality 80, metadata stripped. Reports medians per image and the
throughput ratio (reference time / HTTP time; above 1 means HTTP is faster).

Cached: ``wrk -t2 -c8`` for ``--wrk-seconds`` against one stored variant (``/t/…``) and against
``/cdn/<key>`` of an uploaded object of exactly the variant's size, alternated twice; reports
requests per second and the ratio. The variant is measured twice: as served normally (this
process remembers it for 10 s) and with a never-matching ``If-Modified-Since``, which makes
every request look it up in the database, as the first request of every 10 s does.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pyvips
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_server import live_server

UPLOADKIT = [sys.executable, "-m", "uploadkit_server"]
WIDTH = 800
QUALITY = 80
PHOTOS = {"12MP": (4000, 3000), "2MP": (1632, 1224)}


def make_photo(width: int, height: int) -> pyvips.Image:
    """Smooth colour gradients with sensor-like noise: compresses like a photograph."""
    xyz = pyvips.Image.xyz(width, height)
    red = xyz[0] * 255 / width
    green = xyz[1] * 255 / height
    blue = (xyz[0] + xyz[1]) * 128 / (width + height) + 64
    noise = pyvips.Image.gaussnoise(width, height, sigma=12)
    image = (red.bandjoin([green, blue]) + noise).cast("uchar")
    return image.copy(interpretation="srgb")


def write_photos(folder: Path) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for label, (width, height) in PHOTOS.items():
        image = make_photo(width, height)
        for kind in ("jpg", "png"):
            path = folder / f"{label}.{kind}"
            if kind == "jpg":
                image.jpegsave(str(path), Q=90)
            else:
                image.pngsave(str(path), compression=6)
            paths[f"{label} {kind.upper().replace('JPG', 'JPEG')}"] = path
    return paths


def http_cold(
    client: httpx.Client, api: str, headers: dict[str, str], key: str, width: int
) -> float:
    body = {"key": key, "width": width, "fit": "scale-down", "quality": QUALITY, "format": "jpeg"}
    made = client.post(f"{api}/transforms/image", json=body, headers=headers)
    made.raise_for_status()
    assert made.json()["usage"]["counted"], "the recipe was generated before"
    started = time.perf_counter()
    served = client.get(made.json()["url"])
    elapsed = time.perf_counter() - started
    served.raise_for_status()
    assert pyvips.Image.new_from_buffer(served.content, "").width == width
    return elapsed


def vipsthumbnail(source: Path, out: Path, width: int) -> float:
    command = ["vipsthumbnail", str(source), "-s", f"{width}x", "-o", f"{out}[Q={QUALITY},strip]"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    elapsed = time.perf_counter() - started
    assert pyvips.Image.new_from_file(str(out)).width == width
    return elapsed


def pillow(source: Path, width: int) -> float:
    started = time.perf_counter()
    with Image.open(source) as image:
        image.thumbnail((width, 100_000))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=QUALITY)
    elapsed = time.perf_counter() - started
    assert image.width == width
    return elapsed


#: A validator that never matches: the variant is still sent (200), but found in the database,
#: not in the process's memory of recent answers (``Transformer.variant(fresh=True)``).
FORCE_LOOKUP = "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"


def wrk(url: str, seconds: int, *headers: str) -> float:
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", url]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    match = re.search(r"Requests/sec:\s+([0-9.]+)", done.stdout)
    assert match, done.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    assert errors is None, done.stdout
    return float(match[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    args = parser.parse_args()
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
            [*UPLOADKIT, "admin", "create-account", *("--email", "bench@example.com")]  # noqa: RUF005
            + ["--tier", "team", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        account = json.loads(created.stdout)
        key, project = account["keys"]["live"], account["project"]["id"]
        headers = {"x-api-key": key}
        photos = write_photos(work)
        from uploadkit_client import UploadKit

        with live_server(env, data_dir=work / "data") as server, httpx.Client(timeout=120) as http:
            api = server.api
            http.post(
                f"{api}/projects/{project}/routers",
                json={"slug": "bench", "maxFileSize": "200MB"},
                headers=headers,
            ).raise_for_status()
            with UploadKit(key, server.url, resumable=False) as sdk:
                keys = {
                    label: sdk.upload(path, route="bench")["key"] for label, path in photos.items()
                }
            times: dict[str, dict[str, list[float]]] = {
                label: {"http": [], "vips": [], "pillow": []} for label in photos
            }
            for run in range(args.runs):
                for label, path in photos.items():
                    width = WIDTH + run
                    out = work / f"out-{run}.jpg"
                    times[label]["http"].append(http_cold(http, api, headers, keys[label], width))
                    times[label]["vips"].append(vipsthumbnail(path, out, width))
                    times[label]["pillow"].append(pillow(path, width))

            # Cached: one stored variant vs an object of the same size on the built-in CDN.
            body = {"key": keys["12MP JPEG"], "width": WIDTH, "quality": QUALITY, "format": "jpeg"}
            made = http.post(f"{api}/transforms/image", json=body, headers=headers).json()
            variant = http.get(made["url"])
            variant.raise_for_status()
            with UploadKit(key, server.url, resumable=False) as sdk:
                same_size = sdk.upload(
                    os.urandom(len(variant.content)),
                    route="bench",
                    file_name="same-size.jpg",
                    content_type="image/jpeg",
                )
            parts = urlsplit(made["url"])
            variant_url = f"{server.url}{parts.path}?{parts.query}"
            cdn_url = same_size["url"]
            assert http.get(cdn_url).content != b""
            assert (
                http.get(variant_url, headers=dict([FORCE_LOOKUP.split(": ")])).status_code == 200
            )
            cached: dict[str, list[float]] = {"variant": [], "lookup": [], "cdn": []}
            for _ in range(2):
                cached["cdn"].append(wrk(cdn_url, args.wrk_seconds))
                cached["variant"].append(wrk(variant_url, args.wrk_seconds))
                cached["lookup"].append(wrk(variant_url, args.wrk_seconds, FORCE_LOOKUP))

        versions = subprocess.run(
            ["vipsthumbnail", "--vips-version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        print(
            f"{args.runs} runs per image, median seconds per image; {os.cpu_count()} CPUs; "
            f"server libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)} "
            f"(pyvips-binary), vipsthumbnail {versions}, Pillow {Image.__version__}"
        )
        print(
            f"  {'image':11} {'size':>9} {'HTTP cold':>10} {'vipsthumb':>10} {'Pillow':>8}"
            f"  {'HTTP/vips':>9} {'HTTP/Pillow':>11}"
        )
        ratios_vips: list[float] = []
        ratios_pillow: list[float] = []
        for label, samples in times.items():
            med = {name: statistics.median(values) for name, values in samples.items()}
            vs_vips, vs_pillow = med["vips"] / med["http"], med["pillow"] / med["http"]
            ratios_vips.append(vs_vips)
            ratios_pillow.append(vs_pillow)
            size = photos[label].stat().st_size / 1024 / 1024
            print(
                f"  {label:11} {size:6.1f} MB {med['http']:10.3f} {med['vips']:10.3f} "
                f"{med['pillow']:8.3f}  {vs_vips:9.2f} {vs_pillow:11.2f}"
            )
        total = {
            name: sum(statistics.median(s[name]) for s in times.values())
            for name in ("http", "vips", "pillow")
        }
        print(
            f"  all four images: HTTP {total['http']:.3f} s, vipsthumbnail {total['vips']:.3f} s, "
            f"Pillow {total['pillow']:.3f} s -> throughput ratio HTTP/vipsthumbnail "
            f"{total['vips'] / total['http']:.2f}, "
            f"HTTP/Pillow {total['pillow'] / total['http']:.2f}"
        )
        size = len(variant.content)
        rates = {name: statistics.median(values) for name, values in cached.items()}
        runs = {name: ", ".join(f"{r:.0f}" for r in values) for name, values in cached.items()}
        print(
            f"  cached, {size} bytes, wrk -t2 -c8 -d{args.wrk_seconds}s x2: variant "
            f"{rates['variant']:.0f} req/s (runs {runs['variant']}), "
            f"CDN {rates['cdn']:.0f} req/s (runs {runs['cdn']}) "
            f"-> ratio {rates['variant'] / rates['cdn']:.2f}"
        )
        print(
            f"  cached, looked up in the database every time: {rates['lookup']:.0f} req/s "
            f"(runs {runs['lookup']}) -> ratio {rates['lookup'] / rates['cdn']:.2f} of the CDN"
        )
        print(f"  load average during the run: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
