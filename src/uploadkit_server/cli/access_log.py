"""uvicorn's access log without the secrets in URLs: a filter that passes each logged path
through ``observability.redaction.redact_url``."""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from uploadkit_server.observability.redaction import redact_url


class RedactSignatures(logging.Filter):
    """For the ``uvicorn.access`` logger: its records carry the path as the third argument
    (``client, method, path, http version, status``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_url(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging, with the filter on the access log handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_signatures"] = {"()": RedactSignatures}
    config["handlers"]["access"].setdefault("filters", []).append("redact_signatures")
    return config
