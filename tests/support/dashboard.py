"""Signing in to the dashboard over HTTP and reading a page's CSRF token, for ASGI tests."""

from __future__ import annotations

import re

import httpx

PASSWORD = "correct horse battery staple"


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str = "owner@example.com", password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/dashboard/signin")
    return await client.post(
        "/dashboard/signin",
        data={"email": email, "password": password, "csrf": csrf_of(form)},
    )
