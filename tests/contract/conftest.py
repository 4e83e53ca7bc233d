"""The Node.js project of the contract tests: installed from its lockfile (``npm ci``) when missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def node_project() -> Path:
    """``tests/contract`` with its npm packages installed; skipped only where node or npm is absent."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the contract test is a game server in Node.js (node 18+)")
    if not (PROJECT / "node_modules" / ".package-lock.json").is_file():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=PROJECT, capture_output=True, text=True, timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"npm ci failed in {PROJECT}:\n{done.stderr[-3000:]}"
    return PROJECT


def run_node(project: Path, script: str, *args: str, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``node SCRIPT ARGS`` in the project; its output captured as text."""
    return subprocess.run(
        ["node", script, *args], cwd=project, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
