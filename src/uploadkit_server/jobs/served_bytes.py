"""Add the bytes the CDN served to the monthly usage (see ``core/usage/served.py``)."""

from __future__ import annotations

from uploadkit_server.core.usage.repository import add_served_bytes
from uploadkit_server.runtime import Runtime


async def flush_served_bytes(runtime: Runtime) -> None:
    pending = runtime.served_bytes.take()
    if not pending:
        return
    try:
        async with runtime.sessionmaker() as session, session.begin():
            await add_served_bytes(session, pending)
    except BaseException:
        runtime.served_bytes.give_back(pending)
        raise
