"""Prometheus's promtool for the monitoring tests: find the binary scripts/promtool built, and run it.

The binary is not part of the repository or of scripts/setup (it takes minutes to build): `scripts/promtool` builds it
into `~/.cache/rocketchat-promtool/<version>/promtool`, and `scripts/promtool path` prints that path when it is there.
`PROMTOOL=/path/to/promtool` uses another binary instead.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT_DIR / "scripts" / "promtool"
OUTPUT_DIR = PROJECT_DIR / "build" / "monitoring"
"""Where the tests leave the files they gave promtool and what it answered (ignored by git)."""

HOW_TO_BUILD = (
    "promtool is not built: run `scripts/promtool` (builds Prometheus's promtool from its Go module into "
    "~/.cache/rocketchat-promtool, about 10 minutes on 2 cores) or set PROMTOOL to a promtool binary"
)


def binary() -> Path | None:
    """The promtool to use, or None when there is none."""
    if explicit := os.environ.get("PROMTOOL"):
        path = Path(explicit)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    done = subprocess.run([str(SCRIPT), "path"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    path = Path(done.stdout.strip())
    return path if path.is_file() else None


@dataclass(frozen=True)
class Run:
    command: list[str]
    returncode: int
    output: str

    @property
    def transcript(self) -> str:
        """The command as a person would type it (file paths relative to their folder) and what it printed."""
        shown = ["promtool", *(Path(a).name if a.startswith("/") else a for a in self.command[1:])]
        return f"$ {' '.join(shown)}\n{self.output.rstrip()}\n(exit {self.returncode})\n"


def run(promtool: Path, *args: str, cwd: Path) -> Run:
    command = [str(promtool), *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300, check=False)
    return Run(command, done.returncode, done.stdout + done.stderr)


def keep(name: str, text: str) -> Path:
    """Save a file the tests produced under build/monitoring/ for a person to read afterwards."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / name
    path.write_text(text)
    return path
