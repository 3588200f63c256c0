"""The floors of the house hold: import-linter's contracts, and no hidden imports around them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("wismo", "carriers", "projections", "streams", "api")
#: The one place that may load our own modules by name: sources register themselves there.
DYNAMIC_IMPORTS_ALLOWED = {Path("carriers/registry.py")}


def _python_files(*packages: str) -> list[Path]:
    return sorted(path for name in packages for path in (ROOT / name).rglob("*.py"))


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_loads_our_own_code_by_name() -> None:
    ours = "|".join((*PRODUCT, "bench", "cli"))
    by_name = re.compile(rf"import_module\(\s*f?[\"']({ours})\b|__import__\(")
    offenders = [
        str(path.relative_to(ROOT))
        for path in _python_files(*PRODUCT, "bench", "cli")
        if path.relative_to(ROOT) not in DYNAMIC_IMPORTS_ALLOWED
        and by_name.search(path.read_text())
    ]
    assert offenders == []
