"""Upstream providers: one adapter per provider, prices as data, token counting."""
