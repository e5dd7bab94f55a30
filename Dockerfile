# The gateway in one image: `python -m app.cli serve` (migrations, then the admin API on 8001 and
# the proxy on 8002). Linted by `make lint` (hadolint); compose.yaml runs it with PostgreSQL/Redis.
FROM python:3.11.11-slim-bookworm AS build

WORKDIR /src
COPY setup.cfg pyproject.toml README.md ./
COPY app ./app
COPY schemas ./schemas
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11.11-slim-bookworm

# No .pyc files in the image; logs leave unbuffered; the gateway runs from /app.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/venv/bin:$PATH \
    SQLITE_PATH=/app/data/bricksllm.db \
    EVENT_JOURNAL_DIR=/app/data/journal

RUN groupadd --system --gid 10001 bricks \
    && useradd --system --uid 10001 --gid bricks --home-dir /app --no-create-home bricks

WORKDIR /app
COPY --from=build /venv /venv
COPY app ./app
COPY schemas ./schemas
COPY migrations ./migrations
COPY gunicorn.conf.py wsgi.py ./
RUN mkdir -p /app/data && chown bricks:bricks /app/data

USER 10001:10001
EXPOSE 8001 8002
VOLUME ["/app/data"]

# Liveness of the proxy; /api/health/ready also checks the database and Redis.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PROXY_PORT', '8002') + '/api/health', timeout=3)"]

CMD ["python", "-m", "app.cli", "serve"]
