"""花名册: households and members imported from an XLSX roster, and lists exported to XLSX."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
