"""Reporting endpoints (placeholder)."""

from app.admin.api import Blueprint

blp = Blueprint("reporting", __name__, description="Usage reports")
