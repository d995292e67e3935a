"""Queueing deliveries straight through the outbox, as the upload service does on complete, for
tests and benchmarks that need many of them (or a URL the route API would refuse)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from uploadkit_server.clock import utcnow
from uploadkit_server.core.webhooks.outbox import queue_upload_complete
from uploadkit_server.db.models import File, FileRoute, FileStatus
from uploadkit_server.security import new_id, random_token


async def queue_deliveries(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    project_id: str,
    account_id: str,
    url: str,
    count: int,
    is_test: bool = False,
    cdn_base: str = "http://testserver/cdn",
) -> list[str]:
    """Create a route and ``count`` UPLOADED files, each with its queued delivery, in one
    transaction; return the delivery ids."""
    ids: list[str] = []
    async with sessionmaker() as session, session.begin():
        route = FileRoute(
            id=new_id("route"),
            project_id=project_id,
            slug="r" + random_token(6),
            max_file_size=1024,
            webhook_url=url,
        )
        session.add(route)
        await session.flush()
        now = utcnow()
        for n in range(count):
            file = File(
                id=new_id("file"),
                project_id=project_id,
                account_id=account_id,
                route_id=route.id,
                route_slug=route.slug,
                is_test=is_test,
                key=f"{project_id}/{route.slug}/{random_token(8)}/file-{n}.txt",
                file_name=f"file-{n}.txt",
                file_size=1,
                content_type="text/plain",
                status=FileStatus.UPLOADED,
                expires_at=now,
                uploaded_at=now,
            )
            session.add(file)
            delivery = await queue_upload_complete(session, file=file, cdn_base=cdn_base)
            assert delivery is not None  # the route has the webhook URL
            ids.append(delivery.id)
    return ids
