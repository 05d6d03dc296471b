"""Headless Chromium (Debian's package) for the tests that read a page as a browser renders it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
SKIP_REASON = "chromium is not installed (apt-get install chromium) - pages not checked in a browser"


def dump_dom(url: str, profile: Path, timeout: float = 60) -> str:
    """The DOM of ``url`` once Chromium has loaded it (scripts run), as HTML; ``profile`` is a fresh directory."""
    assert CHROMIUM is not None, SKIP_REASON
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    argv += ["--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"]
    argv += ["--dump-dom", url]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout
