"""The deployments pages (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from shipyard.ui.rendering import Dashboard

__all__ = ["routes"]


def routes(ui: Dashboard) -> APIRouter:
    return APIRouter()
