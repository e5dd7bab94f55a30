"""The proxy (port 8002). Read `pipeline.py` first: it lists the stages a request passes through."""
