"""Copy text to the clipboard: pbcopy on macOS (works in every terminal there), else OSC 52."""

from __future__ import annotations

import subprocess
import sys

from textual.app import App


def copy_text(app: App, text: str, what: str) -> None:
    """Put ``text`` on the clipboard and tell the user ``what`` was copied."""
    if sys.platform == "darwin":
        try:
            subprocess.run(["pbcopy"], input=text.encode(), check=True, timeout=5)
        except (OSError, subprocess.SubprocessError) as exc:
            app.notify(f"pbcopy failed ({exc}); trying the terminal.", severity="warning")
        else:
            app.notify(f"Copied {what}.")
            return
    app.copy_to_clipboard(text)
    app.notify(f"Copied {what} (if your terminal allows clipboard access).")
