"""Routes: hours of service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/drivers", tags=["hours of service"])
