"""Core tables for hours of service (part of ``cloud.db.tables.metadata``)."""

from __future__ import annotations
