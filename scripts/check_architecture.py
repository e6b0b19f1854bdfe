"""Check that the layout is the map of the architecture: who imports whom, and module sizes.

    .venv/bin/python scripts/check_architecture.py

Prints the import graph between our packages and every breach of the rules
below, and exits 1 when there is one (tests/test_architecture.py runs it in
the suite):

* ``wire`` (the client contract) imports nothing of ours;
* ``storage`` imports only ``wire`` (and itself), never ``actors``;
* ``actors`` imports only ``wire`` and the small ``storage.interface``;
* ``transport`` imports only ``wire`` and ``actors.client_socket`` (the protocol it implements);
* ``cluster`` (the Redis side of the actors) imports ``wire``, ``actors`` and ``storage.interface``;
* ``web`` may import everything (it is the composition root);
* no module is longer than 400 lines.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("wire", "transport", "actors", "storage", "cluster", "web")
MAX_LINES = 400

ALLOWED: dict[str, set[str]] = {
    "wire": set(),
    "storage": {"wire"},
    "actors": {"wire", "storage.interface"},
    "transport": {"wire", "actors.client_socket"},
    "cluster": {"wire", "actors", "storage.interface"},
    "web": set(PACKAGES),
}


def imports_of(path: Path) -> set[str]:
    """Modules of ours that ``path`` imports (at any level, type-checking imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def allowed(package: str, imported: str) -> bool:
    if imported.split(".")[0] == package:
        return True
    return any(imported == rule or imported.startswith(rule + ".") for rule in ALLOWED[package])


def main() -> int:
    graph: dict[str, set[str]] = defaultdict(set)
    breaches: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                breaches.append(f"{module}: {lines} lines (at most {MAX_LINES})")
            for imported in sorted(imports_of(path)):
                if imported.split(".")[0] != package:
                    graph[package].add(imported.split(".")[0])
                if not allowed(package, imported):
                    breaches.append(f"{module} imports {imported}")
    for package in PACKAGES:
        print(f"{package:<10} -> {', '.join(sorted(graph[package])) or '(nothing of ours)'}")
    for breach in breaches:
        print(f"breach: {breach}")
    print("ok" if not breaches else f"{len(breaches)} breach(es)")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
