"""The layout is the map: wire imports nothing of ours, storage no actors, no module past 400 lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_packages_import_only_what_the_architecture_allows() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_architecture.py")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wire       -> (nothing of ours)" in result.stdout
