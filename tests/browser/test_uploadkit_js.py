"""``/static/uploadkit.js`` in a real browser, from a page on another origin holding only a
client token: the drop zone uploads (single PUT and multipart), progress reaches 100 %, the
file is there through the API, and ``cancel()`` stops an upload."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ShopServer, Site, drop_file, shop_server
from tests.support.images import png

MIB = 1024 * 1024

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script type="module">
  import { upload } from "{server}/static/uploadkit.js";
  window.uploadkit = { upload };
  const zone = document.querySelector("uploadkit-dropzone");
  window.completed = [];
  window.errors = [];
  zone.addEventListener("uploadkit:complete", (e) => window.completed.push(e.detail));
  zone.addEventListener("uploadkit:error", (e) => window.errors.push(e.detail.message));
</script></head>
<body><h1>Upload your avatar</h1>
<uploadkit-dropzone route="avatars" token="{token}" base-url="{server}"
                    multipart-threshold="{threshold}" multiple></uploadkit-dropzone>
</body></html>"""


def client_token(site: Site, **fields: object) -> str:
    response = site.api("POST", "/client-tokens", site.dev.live_key, json=fields)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopServer]:
    """The customer's own web server: another origin than UploadKit's, so CORS applies."""
    with shop_server() as server:
        yield server


def open_shop(
    page: Any, site: Site, shop: ShopServer, token: str, *, threshold: int = 64 * MIB
) -> None:
    shop.html = (
        PAGE.replace("{server}", site.url)
        .replace("{token}", token)
        .replace("{threshold}", str(threshold))
    )
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(shop.url)
    try:
        page.wait_for_function("window.uploadkit !== undefined", timeout=10_000)
    except Exception as error:
        raise AssertionError(f"uploadkit.js did not load: {problems}") from error


def ensure_route(site: Site) -> None:
    response = site.api(
        "POST",
        f"/projects/{site.dev.project_id}/routers",
        site.dev.live_key,
        json={"slug": "avatars", "maxFileSize": "32MB", "allowedTypes": ["image/*", "*/*"]},
    )
    assert response.status_code in (201, 409), response.text


def test_drop_zone_uploads_with_a_client_token(
    page: Any, site: Site, shop: ShopServer, tmp_path: Any
) -> None:
    ensure_route(site)
    token = client_token(site, routeSlug="avatars", metadata={"userId": "u42"}, maxFileCount=3)
    open_shop(page, site, shop, token)
    image = png(64, 48)
    drop_file(page, "uploadkit-dropzone", name="avatar.png", mime="image/png", data=image)

    item = page.locator("uploadkit-dropzone li").first
    item.locator("text=Uploaded").wait_for()
    assert item.get_attribute("data-state") == "complete"
    assert item.locator("progress").evaluate("bar => bar.value") == 100
    assert item.locator(".percent").inner_text() == "100%"
    page.screenshot(path=str(tmp_path / "shop-dropzone.png"), full_page=True)

    stored = page.evaluate("window.completed[0]")
    assert stored["status"] == "UPLOADED" and stored["fileName"] == "avatar.png"
    # The server, with its key, sees the file, with the token's fixed metadata.
    seen = site.api("GET", f"/files/{stored['key']}", site.dev.live_key)
    assert seen.status_code == 200, seen.text
    assert seen.json()["metadata"] == {"userId": "u42"}
    assert seen.json()["fileSize"] == len(image)


def test_large_files_go_in_parallel_parts(page: Any, site: Site, shop: ShopServer) -> None:
    ensure_route(site)
    token = client_token(site, routeSlug="avatars")
    open_shop(page, site, shop, token, threshold=5 * MIB)
    data = os.urandom(6 * MIB)  # two parts: the server's minimum part size is 5 MiB
    page.locator("uploadkit-dropzone input[type=file]").set_input_files(
        {"name": "video.bin", "mimeType": "application/octet-stream", "buffer": data}
    )
    item = page.locator("uploadkit-dropzone li").first
    item.locator("text=Uploaded").wait_for(timeout=60_000)
    assert item.locator("progress").evaluate("bar => bar.value") == 100
    stored = page.evaluate("window.completed[0]")
    assert stored["fileSize"] == len(data)
    body = site.api("GET", f"/files/{stored['key']}", site.dev.live_key).json()
    content = httpx.get(body["url"], timeout=30).content
    assert hashlib.sha256(content).hexdigest() == hashlib.sha256(data).hexdigest()


def test_the_token_limits_show_as_errors_and_cancel_stops(
    page: Any, site: Site, shop: ShopServer
) -> None:
    ensure_route(site)
    token = client_token(site, routeSlug="avatars", maxFileSize=100)
    open_shop(page, site, shop, token)
    drop_file(page, "uploadkit-dropzone", name="big.png", mime="image/png", data=png(64, 64))
    page.wait_for_function("window.errors.length === 1")
    assert "allows 100" in page.evaluate("window.errors[0]")

    outcome = page.evaluate(
        """async (token) => {
            const file = new File([new Uint8Array(50)], "later.txt", { type: "text/plain" });
            const job = window.uploadkit.upload(file, {
                token, route: "avatars", baseUrl: document.querySelector("uploadkit-dropzone")
                    .getAttribute("base-url") });
            let cancelled = false;
            job.addEventListener("cancel", () => { cancelled = true; });
            job.cancel();
            try { await job.done; return "finished"; }
            catch (error) { return `${error.code}:${cancelled}`; }
        }""",
        token,
    )
    assert outcome == "CANCELLED:true"


def test_the_documented_example_works_as_written(page: Any, site: Site, shop: ShopServer) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "browser-uploads.md").read_text()
    match = re.search(r"```html\n(.*?)```", docs, re.S)
    assert match, "docs/browser-uploads.md lost its HTML example"
    token = client_token(site, routeSlug="files", maxFileCount=10)
    shop.html = (
        match.group(1)
        .replace("http://127.0.0.1:8000", site.url)
        .replace("PASTE_CLIENT_TOKEN", token)
    )
    page.goto(shop.url)
    page.wait_for_function("customElements.get('uploadkit-dropzone') !== undefined")
    drop_file(page, "uploadkit-dropzone", name="notes.txt", mime="text/plain", data=b"hello")
    link = page.locator("#done a", has_text="notes.txt")
    link.wait_for()
    assert httpx.get(str(link.get_attribute("href")), timeout=30).content == b"hello"


def test_a_failed_multipart_upload_resumes_where_it_stopped(
    page: Any, site: Site, shop: ShopServer
) -> None:
    ensure_route(site)
    # One file of budget: the second attempt must continue the first upload, not start another.
    token = client_token(site, routeSlug="avatars", maxFileCount=1)
    open_shop(page, site, shop, token)
    part_puts: list[str] = []
    page.on(
        "request",
        lambda r: part_puts.append(r.url) if r.method == "PUT" and "/parts/" in r.url else None,
    )
    cut = "**/storage/parts/*/2/**"
    page.route(cut, lambda route: route.abort())  # the network drops part 2, every time
    first = page.evaluate(
        """async ([token, base]) => {
            const bytes = new Uint8Array(6 * 1024 * 1024);
            for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) % 251;
            window.bigFile = new File([bytes], "resume.bin",
                { type: "application/octet-stream", lastModified: 1700000000000 });
            const job = window.uploadkit.upload(window.bigFile, { token, route: "avatars",
                baseUrl: base, multipartThreshold: 5 * 1024 * 1024, retries: 1 });
            try { await job.done; return "finished"; } catch (error) { return error.code; }
        }""",
        [token, site.url],
    )
    assert first == "NETWORK"
    page.unroute(cut)
    part_puts.clear()
    second = page.evaluate(
        """async ([token, base]) => {
            const job = window.uploadkit.upload(window.bigFile, { token, route: "avatars",
                baseUrl: base, multipartThreshold: 5 * 1024 * 1024 });
            const stored = await job.done;
            return { stored, resumed: job.resumed === true, sent: job.partsSent };
        }""",
        [token, site.url],
    )
    assert second["resumed"] is True and second["sent"] == 1
    assert len(part_puts) == 1 and "/parts/" in part_puts[0] and "/2/" in part_puts[0]
    period = bytes((i * 7 + 3) % 251 for i in range(251))
    expected = (period * (6 * MIB // 251 + 1))[: 6 * MIB]
    assert httpx.get(second["stored"]["url"], timeout=30).content == expected
