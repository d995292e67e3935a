"""``cli/bootstrap.py`` as an operator meets it: ``uploadkit migrate``, ``admin create-account``,
``set-password`` and ``set-tier``, and the development account of a first ``serve``."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import httpx

from tests.support.cli import uploadkit
from tests.support.live_server import live_server


def test_create_account_json_and_set_tier(tmp_path: Path) -> None:
    env = {"UPLOADKIT_DATA_DIR": str(tmp_path)}
    assert uploadkit("migrate", env=env).returncode == 0
    created = uploadkit(
        "admin", "create-account", "--email", "ops@example.com", "--tier", "team", "--json", env=env
    )
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert set(data) == {"account", "project", "keys"}
    assert set(data["account"]) == {"id", "email", "tier"}
    assert data["account"]["email"] == "ops@example.com" and data["account"]["tier"] == "TEAM"
    assert set(data["project"]) == {"id", "name", "slug"}
    assert data["keys"]["live"].startswith("uk_live_")
    assert data["keys"]["test"].startswith("uk_test_")

    again = uploadkit("admin", "create-account", "--email", "ops@example.com", "--json", env=env)
    assert again.returncode != 0 and "already exists" in again.stderr

    account_id = data["account"]["id"]
    changed = uploadkit(
        "admin",
        "set-tier",
        "--account",
        account_id,
        "--tier",
        "enterprise",
        "--rate-limit",
        "5000",
        env=env,
    )
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == {
        "id": account_id,
        "email": "ops@example.com",
        "tier": "ENTERPRISE",
        "rateLimit": 5000,
    }
    bad = uploadkit("admin", "set-tier", "--account", account_id, "--tier", "gold", env=env)
    assert bad.returncode != 0 and "Unknown tier" in bad.stderr
    missing = uploadkit("admin", "set-tier", "--account", "acct_nope", "--tier", "pro", env=env)
    assert missing.returncode != 0 and "acct_nope" in missing.stderr


def sign_in(url: str, email: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=url) as client:
        form = client.get("/dashboard/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf, form
        data = {"email": email, "password": password, "csrf": csrf.group(1)}
        return client.post("/dashboard/signin", data=data)


def test_dashboard_passwords_from_stdin(tmp_path: Path) -> None:
    env = {"UPLOADKIT_DATA_DIR": str(tmp_path)}
    account = ("--email", "ops@example.com", "--password-stdin")
    created = uploadkit("admin", "create-account", *account, env=env, stdin="first password 1\n")
    assert created.returncode == 0, created.stderr
    short = uploadkit("admin", "set-password", *account, env=env, stdin="short\n")
    assert short.returncode != 0 and "at least 10 characters" in short.stderr
    changed = uploadkit("admin", "set-password", *account, env=env, stdin="second password 2\n")
    assert changed.returncode == 0, changed.stderr
    with live_server({}, data_dir=tmp_path) as server:
        assert sign_in(server.url, "ops@example.com", "first password 1").status_code == 401
        assert sign_in(server.url, "ops@example.com", "second password 2").status_code == 303


def test_first_serve_creates_a_development_account(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    with live_server({}, data_dir=data_dir) as server:
        keys = json.loads((data_dir / "dev-keys.json").read_text())
        assert stat.S_IMODE((data_dir / "dev-keys.json").stat().st_mode) == 0o600
        assert keys["keys"]["live"] in server.log()
        headers = {"x-api-key": keys["keys"]["live"]}
        routes = httpx.get(
            f"{server.api}/projects/{keys['project']['id']}/routers", headers=headers
        )
        assert [r["slug"] for r in routes.json()["items"]] == ["files"]
        data = b"first upload"
        ticket = server.request_upload(
            keys["keys"]["live"],
            name="a.bin",
            size=len(data),
            content_type="application/octet-stream",
        )
        put = httpx.put(
            ticket["uploadUrl"], content=data, headers={"content-type": "application/octet-stream"}
        )
        assert put.status_code < 300
        done = server.complete(keys["keys"]["live"], ticket["fileId"])
        assert done.json()["status"] == "UPLOADED"
        # The dashboard password is printed once too, and signs in.
        assert keys["password"] in server.log() and "/dashboard" in server.log()
        assert sign_in(server.url, "dev@localhost", keys["password"]).status_code == 303
    # A second start does not make another account or print keys again.
    with live_server({}, data_dir=data_dir) as server:
        assert "Created a development account" not in server.log()
        assert keys["password"] not in server.log()
