"""Routes: export (see the module owner's docstring once written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
