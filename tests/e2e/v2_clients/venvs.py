"""The v2 client libraries live in venvs of their own (tritonclient pulls gevent, kserve a
web stack) so they never touch the gateway's interpreter. ``python venvs.py`` makes both
(CI runs it; the tests make a missing one on first use). Root: $TEST_CLIENT_VENVS, else
<repo>/.venvs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
REQUIREMENTS = {
    "triton": ["tritonclient[http]==2.73.0"],
    "kserve": ["kserve==0.21.0"],
}


def root() -> Path:
    return Path(os.environ.get("TEST_CLIENT_VENVS") or REPO / ".venvs")


def python(name: str) -> Path:
    """The venv's interpreter, made (with its pinned requirements) when missing."""
    venv = root() / name
    exe = venv / "bin" / "python"
    marker = venv / ".requirements"
    wanted = " ".join(REQUIREMENTS[name])
    if exe.exists() and marker.exists() and marker.read_text() == wanted:
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(exe), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS[name]],
                   check=True)
    marker.write_text(wanted)
    return exe


def run_client(kind: str, *args: str) -> dict:
    """Run <kind>_calls.py in its venv; its JSON answer (AssertionError with its stderr if it failed)."""
    out = subprocess.run([str(python(kind)), str(Path(__file__).parent / f"{kind}_calls.py"), *args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


if __name__ == "__main__":
    for name in REQUIREMENTS:
        print(python(name))
