"""Image transformations through HTTP: ``POST /api/v1/transforms/image`` and the ``/t`` and
``/p`` delivery endpoints, on the real app with local storage (S3: ``test_transforms_s3.py``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tests.conftest import BASE_URL, make_account
from tests.support import images
from tests.support.api import assert_error
from tests.support.fixtures import with_route
from tests.support.transforms import transform, variant_url, variants_of
from tests.support.uploads import create_route, upload_file
from uploadkit_server.app import create_app
from uploadkit_server.clock import month_of, utcnow
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.core.transforms.signing import Delivery
from uploadkit_server.db.models import Tier, UsageMonth
from uploadkit_server.runtime import Runtime
from uploadkit_server.settings import Settings

route_fields = with_route(maxFileSize="16MB", allowedTypes=["*/*"])


@pytest.fixture
async def photo(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> dict[str, Any]:
    """A 400x200 JPEG, uploaded with the live key."""
    return await upload_file(client, live_headers, images.jpeg(400, 200), name="photo.jpg")


@pytest.fixture
async def logo(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> dict[str, Any]:
    """A 200x100 PNG with alpha."""
    data = images.png(200, 100, alpha=True)
    return await upload_file(client, live_headers, data, name="logo.png", content_type="image/png")


def vary(response: httpx.Response) -> set[str]:
    return {part.strip() for part in response.headers.get("vary", "").split(",")}


async def fetch(client: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    return await client.get(url, headers=headers)


# -- creating URLs and counting units ----------------------------------------------------------


async def test_signed_url_response(
    client: httpx.AsyncClient, photo: dict[str, Any], live_headers: dict[str, str]
) -> None:
    before = time.time()
    response = await transform(
        client, live_headers, photo["key"], width=800, height=600, fit="cover", quality=80
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["delivery"] == "signed"
    assert body["transform"] == {
        "width": 800,
        "height": 600,
        "fit": "cover",
        "quality": 80,
        "format": "auto",
        "recipe": "w_800,h_600,fit_cover,q_80,f_auto",
    }
    prefix = f"{BASE_URL}/t/"
    assert body["url"].startswith(prefix)
    sig, recipe, rest = body["url"][len(prefix) :].split("/", 2)
    assert len(sig) == 43 and recipe == "w_800,h_600,fit_cover,q_80,f_auto"
    key_part, exp = rest.split("?exp=")
    assert key_part == quote(photo["key"], safe="/")
    assert before + 3600 - 1 <= int(exp) <= time.time() + 3600
    assert body["expiresAt"].endswith("Z")
    assert body["usage"] == {
        "period": month_of(utcnow()),
        "used": 3,
        "limit": 5000,
        "units": 3,
        "counted": True,
    }


async def test_public_url_is_stable_and_has_no_expiry(
    client: httpx.AsyncClient, photo: dict[str, Any], live_headers: dict[str, str]
) -> None:
    first = await transform(client, live_headers, photo["key"], width=100, delivery="public")
    again = await transform(client, live_headers, photo["key"], width=100, delivery="public")

    assert first.json()["url"] == again.json()["url"]
    assert first.json()["url"].startswith(f"{BASE_URL}/p/")
    assert "?" not in first.json()["url"]
    assert first.json()["expiresAt"] is None
    served = await fetch(client, first.json()["url"].removeprefix(BASE_URL))
    assert served.status_code == 200
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_units_are_counted_once_per_variant_and_month(
    client: httpx.AsyncClient,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    auto = await transform(client, live_headers, photo["key"], width=100)
    same = await transform(client, live_headers, photo["key"], width=100)  # same recipe
    webp = await transform(client, live_headers, photo["key"], width=100, format="webp")
    public = await transform(client, live_headers, photo["key"], width=100, delivery="public")

    assert [r.json()["usage"]["counted"] for r in (auto, same, webp, public)] == [
        True,
        False,
        True,
        False,  # the delivery does not make another variant
    ]
    assert [r.json()["usage"]["used"] for r in (auto, same, webp, public)] == [3, 3, 4, 4]
    assert webp.json()["usage"]["units"] == 1
    usage = (await client.get("/api/v1/usage", headers=live_headers)).json()
    assert usage["transformUnits"] == 4
    assert usage["limits"]["transformUnitsPerMonth"] == 5000
    history = (await client.get("/api/v1/usage/history", headers=live_headers)).json()
    assert history["items"][0]["transformUnits"] == 4


async def test_monthly_limit_refuses_new_variants(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    charged = await transform(client, live_headers, photo["key"], width=50, format="jpeg")
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(UsageMonth)
            .where(UsageMonth.account_id == account.account.id, UsageMonth.is_test.is_(False))
            .values(transform_units=4998)
        )

    auto = await transform(client, live_headers, photo["key"], width=60)  # 3 units: too many
    one = await transform(client, live_headers, photo["key"], width=60, format="png")  # fits
    again = await transform(client, live_headers, photo["key"], width=50, format="jpeg")
    last = await transform(client, live_headers, photo["key"], width=70, format="png")
    over = await transform(client, live_headers, photo["key"], width=80, format="png")

    assert charged.status_code == 200
    error = assert_error(auto, 429, "IMAGE_TRANSFORM_LIMIT_EXCEEDED")
    assert "5000" in error["message"] and "billing" in error["suggestion"]
    assert one.json()["usage"] == {**one.json()["usage"], "used": 4999, "counted": True}
    assert again.json()["usage"]["counted"] is False  # charged before: still served
    assert last.json()["usage"]["used"] == 5000  # the limit itself is still within it
    assert_error(over, 429, "IMAGE_TRANSFORM_LIMIT_EXCEEDED")
    usage = (await client.get("/api/v1/usage", headers=live_headers)).json()
    assert usage["transformUnits"] == 5000


async def test_free_plan_and_test_keys_are_refused(
    client: httpx.AsyncClient,
    runtime: Runtime,
    photo: dict[str, Any],
    test_headers: dict[str, str],
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)

    assert_error(
        await transform(client, {"x-api-key": free.live_key}, photo["key"], width=10),
        403,
        "IMAGE_TRANSFORMS_REQUIRE_PAID_PLAN",
    )
    assert_error(
        await transform(client, test_headers, photo["key"], width=10),
        403,
        "IMAGE_TRANSFORMS_REQUIRE_LIVE_KEY",
    )
    assert_error(await transform(client, {}, photo["key"], width=10), 401, "UNAUTHORIZED")


async def test_missing_and_foreign_files_are_not_found(
    client: httpx.AsyncClient,
    runtime: Runtime,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    other = await make_account(runtime, email="other@example.com", tier=Tier.TEAM)

    assert_error(
        await transform(client, live_headers, photo["key"] + "x", width=10), 404, "NOT_FOUND"
    )
    assert_error(
        await transform(client, {"x-api-key": other.live_key}, photo["key"], width=10),
        404,
        "NOT_FOUND",
    )


async def test_files_that_are_not_images_are_refused(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    pdf = await upload_file(
        client, live_headers, b"%PDF-1.4 ...", name="doc.pdf", content_type="application/pdf"
    )
    svg = await upload_file(
        client, live_headers, b"<svg/>", name="a.svg", content_type="image/svg+xml"
    )

    for file in (pdf, svg):
        assert_error(
            await transform(client, live_headers, file["key"], width=10),
            415,
            "UNSUPPORTED_TRANSFORM_TYPE",
        )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"width": 0},
        {"width": 4097},
        {"height": -1},
        {"width": 10, "fit": "stretch"},
        {"width": 10, "quality": 0},
        {"width": 10, "quality": 101},
        {"width": 10, "format": "gif"},
        {"width": 10, "delivery": "forever"},
        {"width": 10, "rotate": 90},
    ],
)
async def test_invalid_requests_are_validation_errors(
    client: httpx.AsyncClient,
    photo: dict[str, Any],
    live_headers: dict[str, str],
    fields: dict[str, Any],
) -> None:
    assert_error(
        await transform(client, live_headers, photo["key"], **fields), 400, "VALIDATION_ERROR"
    )


# -- serving -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fit", "width", "height", "expected"),
    [
        ("scale-down", 100, 100, (100, 50)),
        ("scale-down", 1000, 1000, (400, 200)),
        ("contain", 800, 800, (800, 400)),
        ("cover", 100, 100, (100, 100)),
        ("crop", 800, 100, (400, 100)),
        ("pad", 300, 300, (300, 300)),
    ],
)
async def test_each_fit_mode_gives_its_dimensions(
    client: httpx.AsyncClient,
    photo: dict[str, Any],
    live_headers: dict[str, str],
    fit: str,
    width: int,
    height: int,
    expected: tuple[int, int],
) -> None:
    url = await variant_url(
        client, live_headers, photo["key"], width=width, height=height, fit=fit, format="png"
    )
    served = await fetch(client, url)

    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/png"
    assert images.dimensions(served.content)[:2] == expected


@pytest.mark.parametrize(
    ("accept", "content_type", "loader"),
    [
        ("image/avif,image/webp,image/apng,*/*;q=0.8", "image/avif", "heifload_buffer"),
        ("image/webp,*/*", "image/webp", "webpload_buffer"),
        ("image/avif;q=0,image/webp", "image/webp", "webpload_buffer"),
        ("*/*", "image/jpeg", "jpegload_buffer"),
        ("", "image/jpeg", "jpegload_buffer"),
    ],
)
async def test_auto_format_follows_accept(
    client: httpx.AsyncClient,
    photo: dict[str, Any],
    live_headers: dict[str, str],
    accept: str,
    content_type: str,
    loader: str,
) -> None:
    url = await variant_url(client, live_headers, photo["key"], width=40)
    served = await fetch(client, url, accept=accept)

    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == content_type
    assert "Accept" in vary(served)
    assert images.dimensions(served.content) == (40, 20, loader)


async def test_auto_format_keeps_png_for_transparent_sources(
    client: httpx.AsyncClient, logo: dict[str, Any], live_headers: dict[str, str]
) -> None:
    url = await variant_url(client, live_headers, logo["key"], width=50)
    served = await fetch(client, url, accept="*/*")

    assert served.headers["content-type"] == "image/png"
    assert images.dimensions(served.content) == (50, 25, "pngload_buffer")


async def test_explicit_format_ignores_accept(
    client: httpx.AsyncClient, photo: dict[str, Any], live_headers: dict[str, str]
) -> None:
    url = await variant_url(client, live_headers, photo["key"], width=40, format="png")
    served = await fetch(client, url, accept="image/avif,image/webp")

    assert served.headers["content-type"] == "image/png"
    assert "Accept" not in vary(served)


async def test_caching_headers_conditional_requests_and_ranges(
    client: httpx.AsyncClient, photo: dict[str, Any], live_headers: dict[str, str]
) -> None:
    url = await variant_url(client, live_headers, photo["key"], width=120, format="webp")
    full = await fetch(client, url)
    etag = full.headers["etag"]

    assert full.status_code == 200
    max_age = int(full.headers["cache-control"].removeprefix("private, max-age="))
    assert 3500 <= max_age <= 3600
    assert full.headers["accept-ranges"] == "bytes"
    assert int(full.headers["content-length"]) == len(full.content)
    again = await fetch(client, url)
    assert again.headers["etag"] == etag and again.content == full.content
    assert (await fetch(client, url, **{"if-none-match": etag})).status_code == 304
    part = await fetch(client, url, range="bytes=10-19")
    assert part.status_code == 206
    assert part.content == full.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(full.content)}"
    assert_error(await fetch(client, url, range="bytes=999999-"), 416, "RANGE_NOT_SATISFIABLE")
    head = await client.head(url)
    assert head.status_code == 200 and head.headers["etag"] == etag and not head.content


def _edits(url: str) -> list[str]:
    path, exp = url.split("?exp=")
    _, kind, sig, recipe, key = path.split("/", 4)
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return [
        f"/{kind}/{flipped}/{recipe}/{key}?exp={exp}",
        f"/{kind}/{sig}/{recipe.replace('w_100', 'w_101')}/{key}?exp={exp}",
        f"/{kind}/{sig}/{recipe.replace('q_85', 'q_84')}/{key}?exp={exp}",
        f"/{kind}/{sig}/{recipe}/{key}x?exp={exp}",
        f"/{kind}/{sig}/{recipe}/{key}?exp={int(exp) + 1}",
        f"/{kind}/{sig}/{recipe}/{key}",
        f"/p/{sig}/{recipe}/{key}",
        f"/{kind}/{sig}/{recipe.replace(',', ',,', 1)}/{key}?exp={exp}",
    ]


async def test_edited_urls_are_forbidden(
    client: httpx.AsyncClient, photo: dict[str, Any], live_headers: dict[str, str]
) -> None:
    url = await variant_url(client, live_headers, photo["key"], width=100)
    assert (await fetch(client, url)).status_code == 200

    for edited in _edits(url):
        assert_error(await fetch(client, edited), 403, "FORBIDDEN")
    public = await variant_url(client, live_headers, photo["key"], width=100, delivery="public")
    assert_error(await fetch(client, public + "?exp=9999999999"), 403, "FORBIDDEN")
    assert_error(await fetch(client, public.replace("/p/", "/t/")), 403, "FORBIDDEN")


async def test_expired_urls_are_forbidden(
    client: httpx.AsyncClient, runtime: Runtime, photo: dict[str, Any]
) -> None:
    assert runtime.transformer is not None
    signer = runtime.transformer.signer
    recipe = "w_100,fit_scale-down,q_85,f_auto"
    now = int(time.time())
    expired = signer.path(Delivery.SIGNED, recipe, photo["key"], now - 1)
    valid = signer.path(Delivery.SIGNED, recipe, photo["key"], now + 60)

    error = assert_error(await fetch(client, expired), 403, "FORBIDDEN")
    assert "expired" in error["message"]
    assert (await fetch(client, valid)).status_code == 200


async def test_decompression_bomb_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient,
    runtime: Runtime,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    bomb = await upload_file(
        client, live_headers, images.bomb_png(), name="bomb.png", content_type="image/png"
    )
    url = await variant_url(client, live_headers, bomb["key"], width=100)

    error = assert_error(await fetch(client, url), 413, "IMAGE_TRANSFORM_SOURCE_TOO_LARGE")
    assert "12000x12000" in error["message"]
    assert await variants_of(runtime, bomb["key"]) == []
    assert runtime.transformer is not None and runtime.transformer.generated == 0
    # The server is fine: the next variant of a real image is served.
    photo = await upload_file(client, live_headers, images.jpeg(40, 20))
    assert (
        await fetch(client, await variant_url(client, live_headers, photo["key"], width=8))
    ).status_code == 200


async def test_a_source_that_does_not_decode_is_unsupported(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    fake = await upload_file(client, live_headers, b"not really a jpeg", name="fake.jpg")
    url = await variant_url(client, live_headers, fake["key"], width=10)

    assert_error(await fetch(client, url), 415, "UNSUPPORTED_TRANSFORM_TYPE")


# -- generated once, stored, deleted with the original ------------------------------------------


async def test_concurrent_requests_generate_a_variant_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    url = await variant_url(client, live_headers, photo["key"], width=90, format="jpeg")
    responses = await asyncio.gather(*(fetch(client, url) for _ in range(6)))

    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert runtime.transformer is not None and runtime.transformer.generated == 1
    assert [v.status for v in await variants_of(runtime, photo["key"])] == ["ready"]


async def test_processes_sharing_a_database_generate_a_variant_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    """A second app on the same database and storage stands for a second server process:
    they share nothing in memory, so only the claim row can keep them from both generating."""
    url = await variant_url(client, live_headers, photo["key"], width=70, format="webp")
    second: FastAPI = create_app(settings)
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url=BASE_URL) as other,
    ):
        responses = await asyncio.gather(
            *(fetch(http, url) for http in (client, other, client, other))
        )
        generated = second.state.runtime.transformer.generated

    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert runtime.transformer is not None
    assert runtime.transformer.generated + generated == 1


async def test_variants_are_stored_under_a_derived_key(
    client: httpx.AsyncClient,
    runtime: Runtime,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    url = await variant_url(client, live_headers, photo["key"], width=64)
    served = await fetch(client, url, accept="image/webp")
    await fetch(client, url, accept="image/avif")

    stored = await variants_of(runtime, photo["key"])
    assert [v.recipe for v in stored] == [
        "w_64,fit_scale-down,q_85,f_webp",
        "w_64,fit_scale-down,q_85,f_avif",
    ]
    for variant in stored:
        assert variant.object_key.startswith(f"_transforms/{photo['id']}/")
        info = await runtime.storage.head(variant.object_key)
        assert info is not None and info.size == variant.size
    assert stored[0].etag == served.headers["etag"]


async def test_deleting_the_original_deletes_its_variants(
    client: httpx.AsyncClient,
    runtime: Runtime,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    one = await upload_file(client, live_headers, images.jpeg(40, 20), name="one.jpg")
    two = await upload_file(client, live_headers, images.jpeg(40, 20), name="two.jpg")
    three = await upload_file(client, live_headers, images.jpeg(40, 20), name="three.jpg")
    urls = {}
    for file in (one, two, three):
        urls[file["key"]] = await variant_url(client, live_headers, file["key"], width=10)
        assert (await fetch(client, urls[file["key"]])).status_code == 200
    objects = {
        f["key"]: (await variants_of(runtime, f["key"]))[0].object_key for f in (one, two, three)
    }

    single = await client.delete(
        f"/api/v1/files/{quote(one['key'], safe='')}", headers=live_headers
    )
    bulk = await client.request(
        "DELETE", "/api/v1/files", json={"keys": [two["key"], three["key"]]}, headers=live_headers
    )

    assert single.status_code == 200 and bulk.status_code == 200
    for key, object_key in objects.items():
        assert await runtime.storage.head(object_key) is None
        assert await variants_of(runtime, key) == []
        assert_error(await fetch(client, urls[key]), 404, "NOT_FOUND")


async def test_deleting_a_project_deletes_its_variants(
    client: httpx.AsyncClient, runtime: Runtime, live_headers: dict[str, str]
) -> None:
    project = (
        await client.post("/api/v1/projects", json={"name": "Gallery"}, headers=live_headers)
    ).json()
    key = (
        await client.post(f"/api/v1/projects/{project['id']}/keys", json={}, headers=live_headers)
    ).json()["key"]
    headers = {"x-api-key": key}
    await create_route(client, headers, project["id"], slug="files", maxFileSize="4MB")
    file = await upload_file(client, headers, images.jpeg(40, 20))
    url = await variant_url(client, headers, file["key"], width=20, format="jpeg")
    assert (await fetch(client, url)).status_code == 200
    object_key = (await variants_of(runtime, file["key"]))[0].object_key
    assert await runtime.storage.head(object_key) is not None

    deleted = await client.delete(f"/api/v1/projects/{project['id']}", headers=live_headers)

    assert deleted.status_code == 200
    assert await runtime.storage.head(object_key) is None
    assert await variants_of(runtime, file["key"]) == []
    variants_dir = Path(runtime.settings.data_dir) / "storage" / "objects" / "_transforms"
    assert not variants_dir.exists() or not any(p.is_file() for p in variants_dir.rglob("*"))


async def test_a_delete_in_another_process_stops_a_remembered_variant(
    client: httpx.AsyncClient,
    settings: Settings,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    """This process remembers the variant it served; the original is deleted through another
    process. The next GET here must still be a 404, with or without validators."""
    url = await variant_url(client, live_headers, photo["key"], width=30, format="jpeg")
    first = await fetch(client, url)
    assert first.status_code == 200
    second: FastAPI = create_app(settings)
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url=BASE_URL) as other,
    ):
        path = f"/api/v1/files/{quote(photo['key'], safe='')}"
        assert (await other.delete(path, headers=live_headers)).status_code == 200

    assert_error(await fetch(client, url), 404, "NOT_FOUND")
    conditional = await fetch(client, url, **{"if-none-match": first.headers["etag"]})
    assert_error(conditional, 404, "NOT_FOUND")
    assert (await client.head(url)).status_code == 404
