"""Stack variants that the tests and the scans share, on top of the real stack files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools import yamlio

PROJECT_DIR = Path(__file__).resolve().parent.parent
_PROD: dict[str, Any] = yamlio.load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]

OBSERVED_PROD_RAW: dict[str, Any] = {
    "rocketchat:mode": "raw",
    "rocketchat:monitoring": {"podMonitor": True, "prometheusRule": True, "dashboards": True},
    # The production services, with ddp-streamer (10 pods at 5000 users) and presence autoscaled.
    "rocketchat:services": {
        **_PROD["rocketchat:services"],
        "ddpStreamer": {"autoscaling": {"maxReplicas": 20}},
        "presence": {"autoscaling": {"minReplicas": 2, "maxReplicas": 6}},
    },
}
"""The production-sized stack as raw resources with everything optional turned on: monitoring (PodMonitors, the NATS
exporter, the PrometheusRule, the dashboards) and autoscaling."""
