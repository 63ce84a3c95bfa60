"""Alerts: one model for faults, thresholds, maintenance due, idling and route events.

Processors call ``upsert_alert`` / ``resolve_alert`` (idempotent: recomputing a window
never opens a problem twice); people acknowledge and resolve through the API; every
lifecycle step is delivered by webhooks (``delivery``), MQTT (``mqtt_out``) and the live
stream (``stream``). See docs/alerts.md.
"""

from __future__ import annotations

from cloud.alerts.model import (
    EVENT_TYPES,
    SEVERITIES,
    STATUSES,
    AlertError,
    acknowledge,
    alert_dict,
    resolve_alert,
    resolve_by_id,
    upsert_alert,
)

__all__ = [
    "EVENT_TYPES",
    "SEVERITIES",
    "STATUSES",
    "AlertError",
    "acknowledge",
    "alert_dict",
    "resolve_alert",
    "resolve_by_id",
    "upsert_alert",
]
