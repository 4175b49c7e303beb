"""The import contracts of ARCHITECTURE.md hold: `lint-imports` keeps every one of them.

The contracts live in pyproject.toml ([tool.importlinter]): front ends import only
engine.api and engine.errors; the engine's layers import downwards only; no package
cycle. A broken one fails here with lint-imports' own report, which names the import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_import_contracts_are_kept() -> None:
    assert LINT_IMPORTS.exists(), (
        f"{LINT_IMPORTS} is missing: install the test dependencies (pip install -e '.[test]')"
    )
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = result.stdout + result.stderr
    # The report without its banner: from the contracts' summary on.
    summary = report[report.find("Contracts") :] if "Contracts" in report else report
    status = result.returncode
    assert status == 0, f"an import contract is broken:\n{summary}"
