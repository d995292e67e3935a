"""Write the recorded ``lastUsedAt`` of API keys (see ``core/keys/last_used.py``)."""

from __future__ import annotations

from uploadkit_server.core.keys.repository import write_last_used
from uploadkit_server.runtime import Runtime


async def flush_key_usage(runtime: Runtime) -> None:
    pending = runtime.key_usage.take()
    if not pending:
        return
    try:
        async with runtime.sessionmaker() as session, session.begin():
            await write_last_used(session, pending)
    except BaseException:
        runtime.key_usage.give_back(pending)
        raise
