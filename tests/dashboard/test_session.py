"""Dashboard sign-in through the real ASGI app: cookie flags, CSRF on every form, the sign-in
rate limit, sign-out, a new password ending sessions, and pages scoped to the account."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.conftest import make_account
from tests.support.dashboard import PASSWORD, csrf_of, sign_in
from uploadkit_server.core.accounts.passwords import set_password
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.dashboard.account_pages import SIGN_IN_ATTEMPTS_PER_MINUTE
from uploadkit_server.runtime import Runtime


async def test_sign_in_sets_a_protected_session_cookie(
    client: httpx.AsyncClient, owner: NewAccount
) -> None:
    assert (
        (await client.get("/dashboard/projects"))
        .headers["location"]
        .startswith("/dashboard/signin?next=")
    )
    done = await sign_in(client)
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/projects"
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("uk_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    page = await client.get("/dashboard/projects")
    assert page.status_code == 200 and "Default project" in page.text


async def test_cookies_are_secure_under_https(app: FastAPI, owner: NewAccount) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        form = await client.get("/dashboard/signin")
        assert "Secure" in form.headers["set-cookie"]  # the CSRF cookie
        done = await client.post(
            "/dashboard/signin",
            data={"email": "owner@example.com", "password": PASSWORD, "csrf": csrf_of(form)},
        )
        assert done.status_code == 303, done.text
        assert all("Secure" in c for c in done.headers.get_list("set-cookie"))


async def test_every_form_needs_the_csrf_token(
    client: httpx.AsyncClient, owner: NewAccount
) -> None:
    await client.get("/dashboard/signin")
    no_token = await client.post(
        "/dashboard/signin", data={"email": "owner@example.com", "password": PASSWORD}
    )
    assert no_token.status_code == 403 and "uk_session" not in str(no_token.headers)
    assert (await sign_in(client)).status_code == 303
    project = owner.project.id
    for path, data in [
        ("/dashboard/projects", {"name": "x"}),
        (f"/dashboard/projects/{project}/rename", {"name": "x"}),
        (f"/dashboard/projects/{project}/delete", {"confirm": "Default project"}),
        (f"/dashboard/projects/{project}/keys", {"name": "k"}),
        (f"/dashboard/projects/{project}/routes", {"slug": "r"}),
        (f"/dashboard/projects/{project}/routes/route_x", {"slug": "r"}),
        (f"/dashboard/projects/{project}/routes/route_x/delete", {}),
        (f"/dashboard/projects/{project}/files/delete", {"key": "k"}),
        (f"/dashboard/projects/{project}/keys/key_x/revoke", {}),
        (f"/dashboard/projects/{project}/webhooks/whd_x/redeliver", {}),
        (f"/dashboard/projects/{project}/webhooks/rotate/secret", {}),
        ("/dashboard/mode", {}),
        ("/dashboard/signout", {}),
    ]:
        forged = await client.post(path, data={**data, "csrf": "forged"})
        assert forged.status_code == 403, path
        assert 'data-code="FORBIDDEN"' in forged.text  # a page for people, not JSON
    page = await client.get("/dashboard/projects")
    assert "Default project" in page.text and ">x<" not in page.text


async def test_sign_in_is_rate_limited(client: httpx.AsyncClient, owner: NewAccount) -> None:
    for _ in range(SIGN_IN_ATTEMPTS_PER_MINUTE):
        wrong = await sign_in(client, password="wrong password!")
        assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    refused = await sign_in(client)  # even the right password, for the rest of the minute
    assert refused.status_code == 429 and "Too many sign-in attempts" in refused.text


async def test_unknown_email_and_no_password_fail_alike(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_account(runtime, email="nopassword@example.com")
    for email in ("nobody@example.com", "nopassword@example.com"):
        response = await sign_in(client, email=email)
        assert response.status_code == 401 and "Wrong email or password" in response.text


async def test_sign_out_and_a_new_password_end_the_session(
    client: httpx.AsyncClient, owner: NewAccount, runtime: Runtime
) -> None:
    await sign_in(client)
    stolen = client.cookies.get("uk_session")
    page = await client.get("/dashboard/projects")
    out = await client.post("/dashboard/signout", data={"csrf": csrf_of(page)})
    assert out.status_code == 303
    assert (await client.get("/dashboard/projects")).status_code == 303

    # A copy of the cookie still works until the password changes (the session is stateless).
    client.cookies.set("uk_session", str(stolen), path="/dashboard")
    assert (await client.get("/dashboard/projects")).status_code == 200
    async with runtime.sessionmaker() as session, session.begin():
        account = await session.get(type(owner.account), owner.account.id)
        assert account is not None
        await set_password(session, account=account, password="a brand new password")
    assert (await client.get("/dashboard/projects")).status_code == 303


async def test_pages_of_another_accounts_project_are_not_found(
    client: httpx.AsyncClient, owner: NewAccount, runtime: Runtime
) -> None:
    other = await make_account(runtime, email="other@example.com")
    await sign_in(client)
    for name in ("files", "routes", "keys", "webhooks", "usage", "logs", "delete"):
        response = await client.get(f"/dashboard/projects/{other.project.id}/{name}")
        assert response.status_code == 404, name
        assert "text/html" in response.headers["content-type"]
    # The API's errors stay the SPEC's envelope.
    api = await client.get("/api/v1/files", headers={"x-api-key": other.live_key + "x"})
    assert api.status_code == 401 and api.json()["error"]["code"] == "UNAUTHORIZED"
    page = await client.get(f"/dashboard/projects/{owner.project.id}/keys")
    revoke = await client.post(
        "/dashboard/projects/" + owner.project.id + "/keys/key_nonexistent/revoke",
        data={"csrf": csrf_of(page)},
    )
    assert revoke.status_code == 404


async def test_the_files_page_mints_an_upload_token_for_its_route(
    client: httpx.AsyncClient, owner: NewAccount
) -> None:
    await sign_in(client)
    page = await client.get(f"/dashboard/projects/{owner.project.id}/routes")
    created = await client.post(
        f"/dashboard/projects/{owner.project.id}/routes",
        data={"csrf": csrf_of(page), "slug": "docs", "max_file_size": "1MB"},
    )
    assert "Route+docs+created" in created.headers["location"]
    files = await client.get(f"/dashboard/projects/{owner.project.id}/files")
    token = re.search(r'token="(ukct_[^"]+)"', files.text)
    assert token, files.text
    ticket = await client.post(
        "/api/v1/upload/request",
        json={"fileName": "a.txt", "fileSize": 3, "contentType": "text/plain", "routeSlug": "docs"},
        headers={"authorization": f"Bearer {token.group(1)}"},
    )
    assert ticket.status_code == 200, ticket.text
