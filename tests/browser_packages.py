"""Browser-side packages that tests inject into the page, from the npm registry.

``tests/package.json`` names them and ``tests/package-lock.json`` pins them (with
their integrity hashes). The first test that needs one installs them all with
``npm ci`` into ``tests/node_modules`` (git-ignored), so that ``scripts/test.sh``
works from a fresh clone with nothing installed by hand; later runs find them in
place. Without npm the test is skipped, except under CI (``CI=true``), where that
is a failure, as for the browser itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
NODE_MODULES = TESTS / "node_modules"
INSTALL_DEADLINE_S = 300


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser packages cannot be installed: {reason}", pytrace=False)
    pytest.skip(reason)


def _pinned(package: str) -> str:
    lock = json.loads((TESTS / "package-lock.json").read_text())
    version: str = lock["packages"][f"node_modules/{package}"]["version"]
    return version


def _installed(package: str) -> str | None:
    manifest = NODE_MODULES / package / "package.json"
    if not manifest.is_file():
        return None
    version: str = json.loads(manifest.read_text()).get("version", "")
    return version


def package_file(package: str, relative: str) -> Path:
    """A file of an installed package, installing the pinned packages first if this
    one is missing or of another version than the lock file's."""
    if _installed(package) != _pinned(package):
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not on PATH (apt-get install npm)")
            raise AssertionError("unreachable")
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=TESTS,
            capture_output=True,
            text=True,
            timeout=INSTALL_DEADLINE_S,
        )
        if result.returncode != 0:
            _unavailable(f"npm ci in {TESTS} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    path = NODE_MODULES / package / relative
    if not path.is_file():
        pytest.fail(f"{path} is missing after npm ci: does {package} still ship it?", pytrace=False)
    return path
