"""The dashboard in a real browser: sign in, projects, a route, an upload through the drop zone,
keys, webhooks, usage, logs, the test-mode toggle, and one account never seeing another's data.
Each page is photographed into the test's output directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.browser.conftest import Site, drop_file, screenshot, sign_in, upload_via_api
from tests.support.images import png


def project_url(site: Site, page_name: str) -> str:
    return f"{site.url}/dashboard/projects/{site.dev.project_id}/{page_name}"


def accept_dialogs(page: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def wait_for(condition: Any, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        time.sleep(0.05)


def test_sign_in_and_projects(page: Any, site: Site, tmp_path: Path) -> None:
    accept_dialogs(page)
    page.goto(f"{site.url}/dashboard/projects")
    page.wait_for_url("**/dashboard/signin?next=*")
    page.get_by_label("Email").fill("dev@localhost")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert "Wrong email or password" in page.get_by_role("alert").inner_text()
    screenshot(page, tmp_path, "signin")

    sign_in(page, site, site.dev)
    page.get_by_label("Name", exact=True).fill("Shop")
    page.get_by_role("button", name="Create project").click()
    assert "Project Shop created" in page.get_by_role("status").inner_text()
    page.goto(f"{site.url}/dashboard/projects")
    row = page.locator("tr", has_text="Shop")
    row.get_by_label("New name for Shop").fill("Web shop")
    row.get_by_role("button", name="Rename").click()
    assert "Renamed to Web shop" in page.get_by_role("status").inner_text()
    screenshot(page, tmp_path, "projects")

    page.locator("tr", has_text="Web shop").get_by_role("link", name="Delete…").click()
    page.get_by_label("Type").fill("wrong name")
    page.get_by_role("button", name="Delete project").click()
    assert "exactly" in page.get_by_role("alert").inner_text()
    page.get_by_label("Type").fill("Web shop")
    page.get_by_role("button", name="Delete project").click()
    assert "Project Web shop deleted" in page.get_by_role("status").inner_text()
    assert page.locator("tr", has_text="Web shop").count() == 0

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{site.url}/dashboard/projects")
    page.wait_for_url("**/dashboard/signin?next=*")


def test_route_and_upload_through_the_drop_zone(page: Any, site: Site, tmp_path: Path) -> None:
    accept_dialogs(page)
    sign_in(page, site, site.dev)
    page.goto(project_url(site, "routes"))
    page.get_by_label("Slug").fill("photos")
    page.get_by_label("Max file size").fill("nonsense")
    page.get_by_role("button", name="Create route").click()
    assert "maxFileSize" in page.get_by_role("alert").inner_text()  # the API's own validation
    page.get_by_label("Slug").fill("photos")
    page.get_by_label("Max file size").fill("2MB")
    page.get_by_label("Allowed types").fill("image/*")
    page.get_by_role("button", name="Create route").click()
    assert "Route photos created" in page.get_by_role("status").inner_text()
    assert page.locator("tr[data-route=photos]").inner_text().count("2.0 MB") == 1
    screenshot(page, tmp_path, "routes")
    page.locator("tr[data-route=photos]").get_by_role("link", name="Edit").click()
    page.get_by_label("Max file size").fill("3MB")
    page.get_by_role("button", name="Save route").click()
    assert "Route photos saved" in page.get_by_role("status").inner_text()
    assert "3.0 MB" in page.locator("tr[data-route=photos]").inner_text()
    routes = site.api("GET", f"/projects/{site.dev.project_id}/routers", site.dev.live_key)
    photos = next(r for r in routes.json()["items"] if r["slug"] == "photos")
    assert photos["maxFileSize"] == 3 * 1024 * 1024

    page.goto(project_url(site, "files") + "?route=photos")
    drop_file(page, "uploadkit-dropzone", name="sunset.png", mime="image/png", data=png(120, 80))
    item = page.locator("uploadkit-dropzone li").first
    item.locator("text=Uploaded").wait_for()
    assert item.locator("progress").evaluate("bar => bar.value") == 100
    screenshot(page, tmp_path, "files-uploading")
    # The page reloads once the uploads are done; the file is listed with its preview.
    row = page.locator("tr", has_text="sunset.png")
    row.wait_for()
    preview = row.get_by_role("img", name="Preview of sunset.png")
    preview.wait_for()
    wait_for(lambda: preview.evaluate("img => img.complete && img.naturalWidth") == 120)
    assert row.get_by_role("link", name="Download").get_attribute("download") == "sunset.png"
    screenshot(page, tmp_path, "files")

    listed = site.api("GET", "/files?routeSlug=photos", site.dev.live_key).json()["items"]
    assert [f["fileName"] for f in listed] == ["sunset.png"]

    page.get_by_label("Name contains").fill("nothing like it")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("tr", has_text="sunset.png").count() == 0
    page.goto(project_url(site, "files") + "?route=photos")
    page.get_by_label("Select sunset.png").check()
    page.get_by_role("button", name="Delete selected").click()
    assert "Deleted 1 of 1 files" in page.get_by_role("status").inner_text()
    assert site.api("GET", "/files?routeSlug=photos", site.dev.live_key).json()["items"] == []


def test_keys_are_shown_once_and_revoked(page: Any, site: Site, tmp_path: Path) -> None:
    accept_dialogs(page)
    sign_in(page, site, site.dev)
    page.goto(project_url(site, "keys"))
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    plaintext = page.get_by_test_id("new-key").inner_text().strip()
    assert plaintext.startswith("uk_live_")
    assert site.api("GET", "/usage", plaintext).status_code == 200
    screenshot(page, tmp_path, "keys")

    page.goto(project_url(site, "keys"))
    assert page.get_by_test_id("new-key").count() == 0  # shown once
    page.locator("tr", has_text="ci").get_by_role("button", name="Revoke").click()
    assert "Key ci revoked" in page.get_by_role("status").inner_text()
    assert site.api("GET", "/usage", plaintext).status_code == 401


def test_webhook_attempts_redeliver_and_rotate(page: Any, site: Site, tmp_path: Path) -> None:
    created = site.api(
        "POST",
        f"/projects/{site.dev.project_id}/routers",
        site.dev.live_key,
        json={"slug": "hooked", "webhookUrl": site.receiver.url},
    )
    assert created.status_code == 201, created.text
    before = site.receiver.count()
    upload_via_api(
        site, site.dev.live_key, route="hooked", name="a.txt", data=b"hi", mime="text/plain"
    )

    def delivered() -> list[dict[str, Any]]:
        found = site.api("GET", "/webhooks/deliveries?status=delivered", site.dev.live_key)
        return list(found.json()["items"])

    wait_for(lambda: delivered())
    delivery_id = delivered()[0]["id"]

    sign_in(page, site, site.dev)
    page.goto(project_url(site, "webhooks") + "?status=delivered")
    row = page.locator(f"tr[data-delivery={delivery_id}]")
    assert "onUploadComplete" in row.inner_text()
    row.get_by_role("link", name="Attempts").click()
    page.locator("tr.attempt").first.wait_for()
    assert page.locator("tr.attempt").count() == 1
    assert "200" in page.locator("tr.attempt").first.inner_text()
    screenshot(page, tmp_path, "webhook-delivery")

    page.get_by_role("button", name="Redeliver").click()
    assert "Queued again" in page.get_by_role("status").inner_text()
    wait_for(lambda: site.receiver.count() > before + 1)
    wait_for(lambda: page.reload() is not None and page.locator("tr.attempt").count() == 2)

    accept_dialogs(page)
    page.goto(project_url(site, "webhooks"))
    current = page.get_by_test_id("current-signing-key").inner_text()
    page.get_by_role("button", name="Rotate signing keys").click()
    assert "Signing keys rotated" in page.get_by_role("status").inner_text()
    assert page.get_by_test_id("current-signing-key").inner_text() != current
    screenshot(page, tmp_path, "webhooks")


def test_usage_logs_and_test_mode(page: Any, site: Site, tmp_path: Path) -> None:
    upload_via_api(
        site, site.dev.live_key, route="files", name="log.txt", data=b"x", mime="text/plain"
    )
    sign_in(page, site, site.dev)
    page.goto(project_url(site, "usage"))
    assert "Uploads this month" in page.inner_text("main")
    screenshot(page, tmp_path, "usage")
    page.goto(project_url(site, "logs"))
    assert page.locator("tr.event", has_text="log.txt").count() >= 1
    screenshot(page, tmp_path, "logs")

    page.goto(project_url(site, "files"))
    assert page.locator("tr", has_text="log.txt").count() == 1
    page.get_by_role("button", name="Test mode: off").click()
    page.get_by_role("button", name="Test mode: on").wait_for()
    assert page.locator("tr", has_text="log.txt").count() == 0  # the sandbox's data only
    screenshot(page, tmp_path, "files-test-mode")
    page.get_by_role("button", name="Test mode: on").click()
    page.get_by_role("button", name="Test mode: off").wait_for()  # the live page is back
    assert page.locator("tr", has_text="log.txt").count() == 1

    # A phone's width: nothing makes the page itself scroll sideways (wide tables scroll inside
    # their card).
    page.set_viewport_size({"width": 390, "height": 844})
    for name in ("files", "routes", "keys", "webhooks", "usage", "logs"):
        page.goto(project_url(site, name))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    screenshot(page, tmp_path, "files-phone")


def test_another_account_sees_none_of_it(page: Any, site: Site, tmp_path: Path) -> None:
    upload_via_api(
        site, site.dev.live_key, route="files", name="private-dev.txt", data=b"p", mime="text/plain"
    )
    other = site.create_account("other@example.com", "another long password")
    sign_in(page, site, other)
    text = page.content()
    assert site.dev.project_id not in text and "Development" not in text
    for name in ("files", "routes", "keys", "webhooks", "usage", "logs"):
        response = page.goto(project_url(site, name))
        assert response is not None and response.status == 404, name
        assert "private-dev.txt" not in page.content()
    page.goto(f"{site.url}/dashboard/projects/{other.project_id}/files")
    assert "private-dev.txt" not in page.content()
    assert page.locator("tr[data-file]").count() == 0
    page.goto(f"{site.url}/dashboard/projects/{other.project_id}/keys")
    assert page.locator("tr[data-key]").count() == 2  # its own live and test keys only
    screenshot(page, tmp_path, "other-account")
