"""Routes: routes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/routes", tags=["routes"])
