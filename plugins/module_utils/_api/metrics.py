"""Prometheus ``GET /metrics``: DLRN's build counters (``dlrn_builds_*_total``), read from the state DB per scrape.

Each scrape reads the DB, so every gunicorn worker answers the same
figures and nothing is kept between requests (no multiprocess mode needed).
"""

from __future__ import annotations

from typing import Iterator, Tuple

from .._statedb.db import StateDB
from .._statedb.schema import FAILED, RETRY, STATUSES, SUCCESS
from . import queries

try:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
except ImportError as exc:  # reported by exposition(), on a host without the API's requirements
    _IMPORT_ERROR: "ImportError | None" = exc
else:
    _IMPORT_ERROR = None


class _BuildCollector:
    """DLRN's four counters, labelled with the repositories' base URL, and our per-status gauge."""

    def __init__(self, db: StateDB, baseurl: str) -> None:
        self.db = db
        self.baseurl = baseurl

    def collect(self) -> Iterator[object]:
        counts = queries.status_counts(self.db)
        for name, help_text, value in (
            ("dlrn_builds_succeeded", "Total number of successful builds", counts[SUCCESS]),
            ("dlrn_builds_failed", "Total number of failed builds", counts[FAILED]),
            ("dlrn_builds_retry", "Total number of builds in retry state", counts[RETRY]),
            ("dlrn_builds", "Total number of builds", sum(counts.values())),
        ):
            family = CounterMetricFamily(name, help_text, labels=["baseurl"])
            family.add_metric([self.baseurl], value)
            yield family
        gauge = GaugeMetricFamily("distroforge_commits", "Commits in the state DB per build status", labels=["status"])
        for status in STATUSES:
            gauge.add_metric([status], counts[status])
        yield gauge


def exposition(db: StateDB, baseurl: str) -> Tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    if _IMPORT_ERROR is not None:
        raise RuntimeError(f"the REST API needs prometheus-client: {_IMPORT_ERROR}")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_BuildCollector(db, baseurl))  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST
