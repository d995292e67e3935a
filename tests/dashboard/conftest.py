"""The dashboard's account owner: a Pro account with a password, signed in by ``sign_in``."""

from __future__ import annotations

import pytest

from tests.conftest import make_account
from tests.support.dashboard import PASSWORD
from uploadkit_server.core.accounts.passwords import set_password_by_email
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import Tier
from uploadkit_server.runtime import Runtime


@pytest.fixture
async def owner(runtime: Runtime) -> NewAccount:
    new = await make_account(runtime, email="owner@example.com", tier=Tier.PRO)
    async with runtime.sessionmaker() as session, session.begin():
        await set_password_by_email(session, email="owner@example.com", password=PASSWORD)
    return new
