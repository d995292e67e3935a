"""How fast ``S3Storage`` signs URLs (no network: presigning is local computation).

A multipart init of a 10 GiB file signs 2,048 part URLs in one request, so this bounds its
latency. Run by hand: ``.venv/bin/python bench/s3_presign.py``; results go into ``docs/s3.md``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from uploadkit_server.storage.s3 import S3Storage

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

ROUNDS = 5
PARTS = 2048


async def main() -> None:
    storage = S3Storage(bucket="uk-bench", region="eu-west-1")
    try:
        await storage.presign_put("warm/up", content_type="x/y", content_length=1, expires_in=60)
        put_rates, part_batches = [], []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for n in range(1000):
                await storage.presign_put(
                    f"proj_x/files/{n}/photo.jpg",
                    content_type="image/jpeg",
                    content_length=123_456,
                    expires_in=900,
                )
            put_rates.append(1000 / (time.perf_counter() - start))
            start = time.perf_counter()
            for n in range(1, PARTS + 1):
                await storage.presign_part(
                    "proj_x/files/big/movie.mp4",
                    upload_id="upload-id",
                    part_number=n,
                    content_length=5 * 1024 * 1024,
                    expires_in=3600,
                )
            part_batches.append(time.perf_counter() - start)
        rate = statistics.median(put_rates)
        print(f"presign_put: median {rate:,.0f} URLs/s over {ROUNDS} rounds")
        print(
            f"{PARTS} part URLs (10 GiB multipart init): "
            f"median {statistics.median(part_batches) * 1000:,.0f} ms"
        )
    finally:
        await storage.close()


if __name__ == "__main__":
    asyncio.run(main())
