"""Core tables for alerts, maintenance and delivery (part of ``cloud.db.tables.metadata``)."""

from __future__ import annotations
