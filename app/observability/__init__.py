"""Operating the gateway: metrics (Prometheus, DogStatsD), access logs, request ids, readiness."""
