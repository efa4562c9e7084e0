"""Prometheus metrics. With PROMETHEUS_MULTIPROC_DIR set, workers' figures are merged."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

HOPS = Counter("hirfa_ussd_hops_total", "USSD hops answered", ["aggregator", "screen", "kind"])
HOP_SECONDS = Histogram(
    "hirfa_ussd_hop_seconds",
    "Time to answer one USSD hop",
    ["aggregator", "screen"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ERRORS = Counter(
    "hirfa_ussd_errors_total", "USSD hops answered with the unavailable screen", ["aggregator", "screen", "reason"]
)
VOICE_PROMPTS = Counter(
    "hirfa_voice_prompts_total", "Prompts the voice line's replies played, by where their audio came from", ["source"]
)
REJECTED = Counter("hirfa_http_rejected_total", "Callbacks refused before touching state", ["endpoint", "reason"])


def render_metrics() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
