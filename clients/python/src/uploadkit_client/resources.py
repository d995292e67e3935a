"""The management API, one small class per resource, reached as ``client.files``,
``client.projects``, ``client.routes``, ``client.keys``, ``client.usage``, ``client.webhooks``
and ``client.transforms``.

Every method returns the decoded JSON the server sends (camelCase keys, as the API documents
them); list methods that the server paginates return an iterator that follows the cursors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from uploadkit_client.api_client import ApiClient

JSON = dict[str, Any]
JSONList = list[JSON]  # named here: the resources' ``list`` methods shadow the builtin
KeyList = list[str]


def _key_path(key: str) -> str:
    """A file key as one path segment: its slashes travel as ``%2F``."""
    return "/files/" + quote(key, safe="")


class Files:
    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def list(
        self, *, status: str | None = None, route_slug: str | None = None, page_size: int = 100
    ) -> Iterator[JSON]:
        """Every file, newest first, fetching ``page_size`` at a time as you iterate."""
        return self._api.paginate(
            "/files", params={"status": status, "routeSlug": route_slug}, limit=page_size
        )

    def page(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        status: str | None = None,
        route_slug: str | None = None,
    ) -> JSON:
        """One page: ``{"items", "nextCursor", "hasMore"}``."""
        params = {"limit": limit, "cursor": cursor, "status": status, "routeSlug": route_slug}
        page: JSON = self._api.request("GET", "/files", params=params)
        return page

    def get(self, key: str) -> JSON:
        file: JSON = self._api.request("GET", _key_path(key))
        return file

    def update(self, key: str, *, metadata: JSON) -> JSON:
        """Merge ``metadata`` into the file's metadata."""
        file: JSON = self._api.request("PATCH", _key_path(key), json={"metadata": metadata})
        return file

    def delete(self, key: str) -> JSON:
        result: JSON = self._api.request("DELETE", _key_path(key))
        return result

    def delete_many(self, keys: KeyList) -> JSON:
        """Bulk delete (1 to 100 keys); the answer has a result per key."""
        result: JSON = self._api.request("DELETE", "/files", json={"keys": keys})
        return result


class Projects:
    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def list(self) -> JSONList:
        items: JSONList = self._api.request("GET", "/projects")["items"]
        return items

    def create(self, name: str) -> JSON:
        project: JSON = self._api.request("POST", "/projects", json={"name": name})
        return project

    def get(self, project_id: str) -> JSON:
        project: JSON = self._api.request("GET", f"/projects/{quote(project_id, safe='')}")
        return project

    def update(self, project_id: str, *, name: str) -> JSON:
        path = f"/projects/{quote(project_id, safe='')}"
        project: JSON = self._api.request("PATCH", path, json={"name": name})
        return project

    def delete(self, project_id: str) -> JSON:
        result: JSON = self._api.request("DELETE", f"/projects/{quote(project_id, safe='')}")
        return result


class Routes:
    """File routes (upload policies) of a project."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def list(self, project_id: str) -> JSONList:
        path = f"/projects/{quote(project_id, safe='')}/routers"
        items: JSONList = self._api.request("GET", path)["items"]
        return items

    def create(
        self,
        project_id: str,
        *,
        slug: str,
        max_file_size: int | str | None = None,
        max_file_count: int | None = None,
        allowed_types: KeyList | None = None,
        webhook_url: str | None = None,
    ) -> JSON:
        """``max_file_size`` in bytes or with a unit (``"4MB"``, binary units)."""
        body = _without_none(
            slug=slug,
            maxFileSize=max_file_size,
            maxFileCount=max_file_count,
            allowedTypes=allowed_types,
            webhookUrl=webhook_url,
        )
        path = f"/projects/{quote(project_id, safe='')}/routers"
        route: JSON = self._api.request("POST", path, json=body)
        return route

    def get(self, route_id: str) -> JSON:
        route: JSON = self._api.request("GET", f"/routers/{quote(route_id, safe='')}")
        return route

    def update(self, route_id: str, **changes: Any) -> JSON:
        """Change fields given in camelCase or snake_case: ``update(id, max_file_size="8MB")``."""
        body = {_camel(name): value for name, value in changes.items()}
        route: JSON = self._api.request("PATCH", f"/routers/{quote(route_id, safe='')}", json=body)
        return route

    def delete(self, route_id: str) -> JSON:
        result: JSON = self._api.request("DELETE", f"/routers/{quote(route_id, safe='')}")
        return result


class Keys:
    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def list(self, project_id: str) -> JSONList:
        path = f"/projects/{quote(project_id, safe='')}/keys"
        items: JSONList = self._api.request("GET", path)["items"]
        return items

    def create(self, project_id: str, *, name: str | None = None, is_test: bool = False) -> JSON:
        """``{"apiKey": {…}, "key": "uk_…"}`` — the plaintext key is returned only here."""
        path = f"/projects/{quote(project_id, safe='')}/keys"
        created: JSON = self._api.request(
            "POST", path, json=_without_none(name=name, isTest=is_test)
        )
        return created

    def revoke(self, key_id: str) -> JSON:
        result: JSON = self._api.request("DELETE", f"/keys/{quote(key_id, safe='')}")
        return result


class Usage:
    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def get(self) -> JSON:
        usage: JSON = self._api.request("GET", "/usage")
        return usage

    def history(self) -> JSON:
        history: JSON = self._api.request("GET", "/usage/history")
        return history

    def logs(
        self, *, since: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> JSON:
        """Upload events (uploaded, failed, deleted) since an ISO 8601 time, for polling."""
        params = {"since": since, "limit": limit, "cursor": cursor}
        logs: JSON = self._api.request("GET", "/logs", params=params)
        return logs


class Webhooks:
    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def deliveries(self, *, status: str | None = None, page_size: int = 100) -> Iterator[JSON]:
        """Every delivery (``pending``, ``delivered``, ``failed``, ``dead``), newest first."""
        return self._api.paginate(
            "/webhooks/deliveries", params={"status": status}, limit=page_size
        )

    def delivery(self, delivery_id: str) -> JSON:
        """One delivery with every attempt."""
        path = f"/webhooks/deliveries/{quote(delivery_id, safe='')}"
        delivery: JSON = self._api.request("GET", path)
        return delivery

    def redeliver(self, delivery_id: str) -> JSON:
        path = f"/webhooks/deliveries/{quote(delivery_id, safe='')}/redeliver"
        delivery: JSON = self._api.request("POST", path)
        return delivery

    def delete_delivery(self, delivery_id: str) -> JSON:
        path = f"/webhooks/deliveries/{quote(delivery_id, safe='')}"
        result: JSON = self._api.request("DELETE", path)
        return result

    def signing_keys(self) -> JSON:
        """``{currentSigningKey, nextSigningKey, secret}``; ``secret`` is the ``whsec_`` one."""
        keys: JSON = self._api.request("GET", "/webhooks/signing-keys")
        return keys

    def rotate_signing_keys(self) -> JSON:
        keys: JSON = self._api.request("POST", "/webhooks/signing-keys/rotate")
        return keys


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _without_none(**fields: Any) -> JSON:
    return {name: value for name, value in fields.items() if value is not None}


class Transforms:
    """Image transformations (paid plans, live keys): URLs of resized, re-encoded variants."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def image(
        self,
        key: str,
        *,
        width: int | None = None,
        height: int | None = None,
        fit: str | None = None,
        quality: int | None = None,
        format: str | None = None,
        delivery: str | None = None,
    ) -> JSON:
        """A variant URL of the image at ``key``: ``{url, expiresAt, delivery, transform,
        usage}``. ``fit`` is ``scale-down`` (default), ``contain``, ``cover``, ``crop`` or
        ``pad``; ``format`` ``auto`` (default: AVIF, WebP or JPEG/PNG by the browser's
        ``Accept``), ``avif``, ``webp``, ``jpeg`` or ``png``; ``delivery`` ``signed``
        (default, expiring) or ``public`` (stable).

        Example::

            url = client.transforms.image(key, width=800, height=600, fit="cover")["url"]
        """
        fields = {
            "width": width,
            "height": height,
            "fit": fit,
            "quality": quality,
            "format": format,
            "delivery": delivery,
        }
        body = {"key": key, **{name: value for name, value in fields.items() if value is not None}}
        result: JSON = self._api.request("POST", "/transforms/image", json=body)
        return result
