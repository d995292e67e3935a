"""``client.transforms.image`` against the real server process: a variant URL that serves the
resized image, with the SDK's errors for what the server refuses."""

from __future__ import annotations

import httpx
import pytest

from tests.support import images
from uploadkit_client import NotFound, UploadKit, UploadKitError


def test_image_returns_a_url_that_serves_the_variant(sdk: UploadKit) -> None:
    file = sdk.upload(images.jpeg(400, 200), route="images", file_name="sdk.jpg")

    result = sdk.transforms.image(file["key"], width=100, height=100, fit="cover", format="webp")

    assert result["transform"]["recipe"] == "w_100,h_100,fit_cover,q_85,f_webp"
    assert result["usage"]["limit"] is None  # Enterprise: unlimited
    served = httpx.get(result["url"], timeout=30)
    assert served.status_code == 200
    assert images.dimensions(served.content) == (100, 100, "webpload_buffer")
    public = sdk.transforms.image(file["key"], width=50, delivery="public")
    assert public["expiresAt"] is None and "/p/" in public["url"]


def test_refusals_raise_sdk_errors(sdk: UploadKit) -> None:
    with pytest.raises(NotFound):
        sdk.transforms.image("proj_nope/none.jpg", width=10)
    text = sdk.upload(b"plain text", route="files", file_name="a.txt")
    with pytest.raises(UploadKitError) as refused:
        sdk.transforms.image(text["key"], width=10)
    assert refused.value.code == "UNSUPPORTED_TRANSFORM_TYPE"
