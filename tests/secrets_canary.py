"""The secrets canary: scan captured log output for secrets that must never be written.

`find_secrets(output, secrets)` returns, per secret found, the first line holding it (with the
secret masked, so the failure message does not leak it either); `assert_no_secrets` fails a
test with those lines. Secrets shorter than 6 characters are refused: they would match by chance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# The distinctive secrets the test suite hands the gateway (provider keys, admin passwords, gateway
# keys); none may ever appear in what a gateway prints. Gateway keys made by tests/functional
# helpers are `gw-` and 32 hex digits.
SUITE_SECRETS = (
    "sk-upstream", "sk-ant-upstream", "di-secret", "az-upstream", "vllm-secret", "vllm-token",
    "upstream-secret", "tgi-secret", "sk-second", "YOUR_OPENAI_KEY", "s3cret-admin",
    "combined-admin-pass", "docs-admin-pass", "my-secret-key", "one-port-key",
)  # fmt: skip
GATEWAY_KEY = re.compile(r"gw-[0-9a-f]{32}")


def find_secrets(output: str, secrets: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    wanted = [s for s in secrets if s]
    for secret in wanted:
        if len(secret) < 6:
            raise ValueError("a canary secret needs at least 6 characters")
    for line in output.splitlines():
        for secret in wanted:
            if secret not in found and secret in line:
                masked = secret[:2] + "…"
                found[masked] = line.replace(secret, masked)
    return found


def assert_no_secrets(output: str, secrets: Iterable[str]) -> None:
    found = find_secrets(output, secrets)
    assert not found, "secrets written to the logs:\n" + "\n".join(
        f"  {name}: {line}" for name, line in found.items()
    )


def find_suite_secrets(output: str) -> dict[str, str]:
    """`find_secrets` with the suite's secrets, and any gateway key of the suite's helpers."""
    found = find_secrets(output, SUITE_SECRETS)
    for line in output.splitlines():
        match = GATEWAY_KEY.search(line)
        if match:
            found.setdefault("gw-…", line.replace(match.group(0), "gw-…"))
            break
    return found
