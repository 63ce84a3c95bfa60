"""Core tables for route plans and adherence (part of ``cloud.db.tables.metadata``)."""

from __future__ import annotations
