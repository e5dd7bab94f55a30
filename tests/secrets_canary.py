"""The secrets canary: scan captured log output for secrets that must never be written.

`find_secrets(output, secrets)` returns, per secret found, the first line holding it (with the
secret masked, so the failure message does not leak it either); `assert_no_secrets` fails a
test with those lines. Secrets shorter than 6 characters are refused: they would match by chance.
"""

from __future__ import annotations

from collections.abc import Iterable


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
