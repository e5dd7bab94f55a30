"""Install the peer gateways into bench-only environments under bench/.envs/ (never committed).

    python -m bench.peers litellm [VERSION]   # a virtualenv with litellm[proxy] from PyPI
    python -m bench.peers portkey [VERSION]   # npm install @portkey-ai/gateway

Then `python -m bench.run --only litellm,portkey` (the direct baseline always runs too).
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.scenarios import ENVS


def install_litellm(version: str | None) -> None:
    target = ENVS / "litellm"
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300)
    spec = "litellm[proxy]" + (f"=={version}" if version else "")
    pip = [str(target / "bin" / "pip"), "install", "--quiet", spec]
    subprocess.run(pip, check=True, timeout=1800)


def install_portkey(version: str | None) -> None:
    target = ENVS / "portkey"
    target.mkdir(parents=True, exist_ok=True)
    # @hono/node-server newer than 1.14.2 makes the gateway answer 500 "TypeError: immutable"
    # (Portkey-AI/gateway issue #1389): pin it, and the node-ws that accepts it.
    manifest = {
        "name": "bench-portkey",
        "private": True,
        "dependencies": {"@portkey-ai/gateway": version or "*"},
        "overrides": {"@hono/node-server": "1.14.2", "@hono/node-ws": "1.2.0"},
    }
    (target / "package.json").write_text(json.dumps(manifest, indent=2))
    npm = ["npm", "install", "--prefix", str(target), "--no-audit", "--no-fund"]
    subprocess.run(npm, check=True, timeout=1800)


def main(argv: list[str]) -> int:
    installers = {"litellm": install_litellm, "portkey": install_portkey}
    if not argv or argv[0] not in installers:
        print(__doc__)
        return 2
    installers[argv[0]](argv[1] if len(argv) > 1 else None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
