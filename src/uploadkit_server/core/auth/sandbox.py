"""What a test (``uk_test_``) key may do: work inside the sandbox, never change live traffic.

Files, uploads, usage, upload events and webhook deliveries are partitioned by mode, so a test
key can do anything there: it only ever sees and touches test-mode rows. Projects, file routes,
API keys and the project's webhook signing material are shared by both modes; live uploads and
deliveries depend on them. A test key may read them, and may mint and revoke *test* keys, but
every other change to them needs a live key. The rule lives here, once; each service that
changes shared state calls ``require_live`` before touching anything.

``docs/management-api.md`` lists the same rules for each endpoint.
"""

from __future__ import annotations

from enum import StrEnum

from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.errors import LiveKeyRequired


class LiveOnly(StrEnum):
    """Changes to state that live traffic depends on; the value words the refusal."""

    CREATE_LIVE_KEY = "create a live API key"
    REVOKE_LIVE_KEY = "revoke a live API key"
    CREATE_PROJECT = "create a project"
    UPDATE_PROJECT = "rename a project"
    DELETE_PROJECT = "delete a project"
    CREATE_ROUTE = "create a file route"
    UPDATE_ROUTE = "change a file route"
    DELETE_ROUTE = "delete a file route"
    ROTATE_SIGNING_KEYS = "rotate the webhook signing keys"
    ROTATE_WEBHOOK_SECRET = "rotate the webhook secret"


def require_live(auth: AuthContext, action: LiveOnly) -> None:
    """Raise ``LiveKeyRequired`` (``403``) when a test key attempts ``action``."""
    if auth.is_test:
        raise LiveKeyRequired(
            f"A test key cannot {action.value}: test keys work in the sandbox only",
        )
