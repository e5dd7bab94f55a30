"""Wire formats of the admin API (marshmallow): what clients send and what they get back.

No Flask and no storage here; cross-field rules come from `app.domain`.
"""
