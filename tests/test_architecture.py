"""The layering DESIGN.md promises, checked with import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    """mlx_model never imports the app; the core never imports Textual or a front end; no cycles."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_no_package_called_app_is_installed():
    """The source folder app/ installs as llama_chat; a plain `app` would collide with others'."""
    import llama_chat

    assert Path(llama_chat.__file__).resolve().parent == ROOT / "app"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"llama_chat" = "app"' in pyproject
    assert '\n    "app' not in pyproject.split("packages = [", 1)[1].split("]", 1)[0]
