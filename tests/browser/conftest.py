"""Browser tests: Playwright driving the system's Chromium against a real ``uploadkit serve``.

Playwright cannot download its own browsers here, so it is pointed at the distribution's
Chromium (``UPLOADKIT_TEST_CHROMIUM``, default ``/usr/bin/chromium``). Without it the tests
skip with the reason; under ``CI=true`` they fail instead (``.ci/run`` installs it).

One server process serves a whole test module (the fixtures are module-scoped); each test
gets a fresh browser context (cookies, storage), so tests do not see each other's sessions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import LiveServer, start_server
from tests.support.services import unavailable
from tests.support.webhook_receiver import WebhookReceiver

CHROMIUM = os.environ.get("UPLOADKIT_TEST_CHROMIUM", "/usr/bin/chromium")


def chromium_path() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found:
        return found
    unavailable(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev dependency
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 860})
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass
class Account:
    email: str
    password: str
    project_id: str
    live_key: str


@dataclass
class Site:
    server: LiveServer
    data_dir: Path
    dev: Account
    receiver: WebhookReceiver

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, method: str, path: str, key: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.server.api}{path}", headers={"x-api-key": key}, timeout=30, **kwargs
        )

    def create_account(self, email: str, password: str) -> Account:
        """Through the operator's command, as documented."""
        done = subprocess.run(
            [
                *(sys.executable, "-m", "uploadkit_server", "admin", "create-account"),
                *("--email", email, "--json", "--password-stdin"),
            ],
            input=password + "\n",
            env={**os.environ, "UPLOADKIT_DATA_DIR": str(self.data_dir)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        return Account(email, password, data["project"]["id"], data["keys"]["live"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    receiver = WebhookReceiver()
    receiver.start()
    env = {
        "UPLOADKIT_WEBHOOK_ALLOW_PRIVATE": "true",
        "UPLOADKIT_WEBHOOK_RETRY_DELAYS": "1,1",
        "UPLOADKIT_WEBHOOK_TIMEOUT": "5",
    }
    server = start_server(env, data_dir=data_dir)
    try:
        dev = json.loads((data_dir / "dev-keys.json").read_text())
        account = Account(
            "dev@localhost", dev["password"], dev["project"]["id"], dev["keys"]["live"]
        )
        yield Site(server=server, data_dir=data_dir, dev=account, receiver=receiver)
    finally:
        server.stop()
        receiver.stop()


@dataclass
class ShopServer:
    """A plain web server for one HTML page (the page of a site that embeds uploadkit.js)."""

    port: int = 0
    html: str = ""

    @property
    def url(self) -> str:
        # localhost, not 127.0.0.1: another origin than the UploadKit server, so CORS applies.
        return f"http://localhost:{self.port}/"


@contextmanager
def shop_server() -> Iterator[ShopServer]:
    shop = ShopServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = shop.html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    shop.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield shop
    finally:
        server.shutdown()
        server.server_close()


def sign_in(page: Any, site: Site, account: Account) -> None:
    page.goto(f"{site.url}/dashboard")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/projects")


def drop_file(page: Any, selector: str, *, name: str, mime: str, data: bytes) -> None:
    """Drop a file on an element the way a user's drag and drop does (a ``drop`` event whose
    ``DataTransfer`` holds the file)."""
    page.evaluate(
        """([selector, name, mime, bytes]) => {
            const target = document.querySelector(selector).shadowRoot.querySelector(".zone");
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, { type: mime }));
            target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
        }""",
        [selector, name, mime, list(data)],
    )


def screenshot(page: Any, directory: Path, name: str) -> None:
    """Into the test's output directory for review; also into ``UPLOADKIT_SCREENSHOT_DIR``
    when set (how the pictures in docs/img are made)."""
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)
    extra = os.environ.get("UPLOADKIT_SCREENSHOT_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(extra) / f"dashboard-{name}.png"), full_page=True)


def upload_via_api(
    site: Site, key: str, *, route: str, name: str, data: bytes, mime: str
) -> dict[str, Any]:
    """The server-side flow with an API key: request, PUT the bytes, complete."""
    ticket = site.api(
        "POST",
        "/upload/request",
        key,
        json={"fileName": name, "fileSize": len(data), "contentType": mime, "routeSlug": route},
    )
    assert ticket.status_code == 200, ticket.text
    put = httpx.put(
        ticket.json()["uploadUrl"], content=data, headers={"content-type": mime}, timeout=30
    )
    assert put.status_code < 300, put.text
    done = site.api("POST", "/upload/complete", key, json={"fileId": ticket.json()["fileId"]})
    assert done.status_code == 200, done.text
    return dict(done.json())
