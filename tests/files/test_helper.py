"""The helper process's own guarantees, apart from any container."""

from __future__ import annotations

import subprocess
import sys


def test_once_inside_no_module_can_be_imported() -> None:
    """After it entered a container's root, an import would load the container's files:
    it must fail instead. What tarfile loads lazily was loaded before (zlib)."""
    code = (
        "from engine.files import inside\n"
        "inside._seal_imports()\n"
        "for name in ('xml.dom', 'csv', 'zlib'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        print('refused', name)\n"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert result.stdout == "refused xml.dom\nrefused csv\n", result.stderr


def test_a_bad_spec_is_one_line_and_status_1() -> None:
    result = subprocess.run([sys.executable, "-I", "-m", "engine.files.inside", "{}"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "KeyError: 'root'\n")
