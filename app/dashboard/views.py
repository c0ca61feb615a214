"""工作进度: progress dashboards for the county, a project and a village, as numbers, SVG charts and a one-page PDF briefing."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
