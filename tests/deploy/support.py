"""What the deploy checks share: the repository's deploy folder and the metric names the service defines."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
_METRIC = re.compile(r"\bvehiclewatch_[a-z_]+")
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def defined_metrics() -> set[str]:
    """Every metric name streamer/service/metrics.py declares (the literal names in its source)."""
    return set(re.findall(r'"(vehiclewatch_[a-z_]+)"', (ROOT / "streamer" / "service" / "metrics.py").read_text()))


def used_metrics(text: str) -> set[str]:
    """The metric names a PromQL text uses, with histogram series suffixes taken off."""
    names = set()
    for name in _METRIC.findall(text):
        for suffix in _HISTOGRAM_SERIES:
            if name.endswith(suffix) and name.removesuffix(suffix) in defined_metrics():
                name = name.removesuffix(suffix)
        names.add(name)
    return names
