"""Persistence: a small `Database` seam (sqlite.py, postgres.py) and repositories over it.

Repositories write portable SQL with `%s` placeholders; each Database implementation adapts the
placeholders and supplies the few dialect-specific fragments (JSON containment, upserts).
"""
