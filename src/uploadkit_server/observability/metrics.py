"""The server's Prometheus metrics, built per application (never at import time).

One process: the metrics live in the application's own ``CollectorRegistry``. Several
(``uploadkit serve --workers N``): ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before any worker starts, prometheus-client then keeps every value in a file per
process there, and a scrape of any worker adds up all of them (``MultiProcessCollector``).

Values read from the database at scrape time (the webhook queue) are not kept in any process:
they are computed by the scraped worker and added to its answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Completion endpoints whose answer is an upload's outcome.
UPLOAD_OUTCOMES = {
    "/api/v1/upload/complete",
    "/api/v1/upload/multipart/complete",
}


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


@dataclass(frozen=True)
class QueueSnapshot:
    """The webhook queue as the database holds it at scrape time."""

    depth: int
    oldest_due_seconds: float


class _Snapshot:
    """A one-off collector for the values computed at scrape time."""

    def __init__(self, queue: QueueSnapshot | None) -> None:
        self.queue = queue

    def collect(self) -> Iterable[Metric]:
        if self.queue is None:
            return []
        depth = GaugeMetricFamily(
            "uploadkit_webhook_queue_depth", "Webhook deliveries pending or waiting to retry"
        )
        depth.add_metric([], self.queue.depth)
        oldest = GaugeMetricFamily(
            "uploadkit_webhook_oldest_due_seconds",
            "Age of the oldest webhook delivery that is due and not yet sent (0 if none)",
        )
        oldest.add_metric([], self.queue.oldest_due_seconds)
        return [depth, oldest]


@dataclass(frozen=True, slots=True)
class _RequestSeries:
    requests: Counter
    latency: Histogram
    received: Counter
    sent: Counter


class Metrics:
    def __init__(self) -> None:
        self._series: dict[tuple[str, str, int], _RequestSeries] = {}
        # Multi-process values are in files; a registry is only needed to render this process's.
        self.registry = CollectorRegistry()
        registry = None if multiprocess() else self.registry
        self.requests = Counter(
            "uploadkit_http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "uploadkit_http_request_duration_seconds",
            "Time to the end of the response, by method, route template and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.bytes_received = Counter(
            "uploadkit_http_received_bytes_total",
            "Request body bytes received (uploads to the storage and tus endpoints included)",
            ["route"],
            registry=registry,
        )
        self.bytes_served = Counter(
            "uploadkit_http_sent_bytes_total",
            "Response body bytes sent (CDN and variant bytes included)",
            ["route"],
            registry=registry,
        )
        self.uploads = Counter(
            "uploadkit_uploads_total",
            "Upload completions by outcome: uploaded, rejected (verification failed), error",
            ["outcome"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "uploadkit_rate_limited_total",
            "Requests refused with 429, by route template",
            ["route"],
            registry=registry,
        )
        self.webhook_attempts = Counter(
            "uploadkit_webhook_attempts_total",
            "Finished webhook delivery attempts by result: delivered, retry, dead",
            ["result"],
            registry=registry,
        )
        self.backend_errors = Counter(
            "uploadkit_backend_errors_total",
            "Unexpected errors of the database or the storage backend",
            ["backend"],
            registry=registry,
        )

    def _request_series(self, method: str, route: str, status: int) -> _RequestSeries:
        """The labelled children one request updates, looked up once per label combination
        (``labels()`` formats, validates and locks on every call; a request would pay that
        four times). The combinations are bounded: routes are templates."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            code = str(status)
            series = _RequestSeries(
                requests=self.requests.labels(method, route, code),
                latency=self.latency.labels(method, route, code),
                received=self.bytes_received.labels(route),
                sent=self.bytes_served.labels(route),
            )
            self._series[key] = series
        return series

    def observe_request(
        self, *, method: str, route: str, status: int, seconds: float, received: int, sent: int
    ) -> None:
        series = self._request_series(method, route, status)
        series.requests.inc()
        series.latency.observe(seconds)
        if received:
            series.received.inc(received)
        if sent:
            series.sent.inc(sent)
        if status == 429:
            self.rate_limited.labels(route).inc()
        if route in UPLOAD_OUTCOMES:
            outcome = "uploaded" if status < 300 else "rejected" if status == 422 else "error"
            self.uploads.labels(outcome).inc()

    def webhook_attempts_counted(self, status: str) -> None:
        """One finished attempt, by the state it led to (a ``DeliveryStatus`` value)."""
        result = {"delivered": "delivered", "dead": "dead"}.get(str(status), "retry")
        self.webhook_attempts.labels(result).inc()

    def backend_error(self, error: BaseException) -> None:
        """Count an unexpected error if it came from the database or the storage backend."""
        from sqlalchemy.exc import SQLAlchemyError

        from uploadkit_server.storage.base import StorageError

        if isinstance(error, SQLAlchemyError | ConnectionError):
            self.backend_errors.labels("database").inc()
        elif isinstance(error, StorageError):
            self.backend_errors.labels("storage").inc()

    def render(self, queue: QueueSnapshot | None) -> bytes:
        registry = CollectorRegistry()
        if multiprocess():
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry.register(_RegistryView(self.registry))
        registry.register(_Snapshot(queue))
        return generate_latest(registry)


class _RegistryView:
    """This process's registry inside the scrape's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()
