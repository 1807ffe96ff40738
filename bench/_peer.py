"""The dispatch benchmark's peer queue, pgqueuer, run from a virtual environment of its own.

peer_rate(pg_url, rows[, workers]) builds the environment once (var/bench-peer-venv-<stamp>, the stamp taken
from the pinned requirements and the Python version, so a change of either builds a new one), runs
bench/_peer_pgqueuer.py in it and returns its sends per second; None, with the reason on stderr, when
the environment cannot be built (no PyPI) or the run fails.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "_peer_pgqueuer.py"
# Pinned: the versions measured. uvloop: the event loop pgqueuer's own `pgq run` uses when installed.
# jinja2 as the bot's (the template work must cost the same).
REQUIREMENTS = ("pgqueuer==1.6.0", "asyncpg==0.32.0", "uvloop==0.23.0", "jinja2==3.1.6")
TIMEOUT_S = 1800


def venv_dir() -> Path:
    stamp = hashlib.sha256("\n".join((*REQUIREMENTS, sys.version)).encode()).hexdigest()[:10]
    return ROOT / "var" / f"bench-peer-venv-{stamp}"


def ensure_venv() -> Path | None:
    """The environment's python, built if missing; None (reason on stderr) if pip cannot install."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    ready = venv / ".installed"
    if ready.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            problem = (done.stderr or done.stdout).strip().splitlines()
            print(f"peer queue skipped: `{' '.join(step[:4])} …` failed: {problem[-1] if problem else done.returncode}",
                  file=sys.stderr)
            shutil.rmtree(venv, ignore_errors=True)
            return None
    ready.write_text("\n".join(REQUIREMENTS) + "\n")
    return python


def peer_run(pg_url: str, rows: int, *extra: str) -> dict[str, object] | None:
    """bench/_peer_pgqueuer.py's JSON line (see its docstring), or None with the reason on stderr."""
    python = ensure_venv()
    if python is None:
        return None
    try:
        done = subprocess.run([str(python), str(SCRIPT), "--url", pg_url, "--rows", str(rows), *extra],
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"peer queue: no result after {TIMEOUT_S} s", file=sys.stderr)
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = done.stderr.strip().splitlines()[-5:]
        print("peer queue failed:\n" + "\n".join(tail), file=sys.stderr)
        return None
    return json.loads(lines[-1])


def peer_rate(pg_url: str, rows: int, workers: int = 1) -> float | None:
    """pgqueuer's sends per second for `rows` jobs over 100 mailboxes (bench/_peer_pgqueuer.py), to
    every job acknowledged: the bot's rate likewise counts to its last send recorded."""
    result = peer_run(pg_url, rows, "--workers", str(workers))
    return float(result["acked_per_s"]) if result else None  # type: ignore[arg-type]
