"""Well-known locations inside the checkout.

Everything is derived from this file's location so that the program behaves the same whatever the
current directory is. ``VAR_DIR`` holds runtime state (the embedded SQLite file, the generated secret
key, logs); it is created lazily by whoever writes into it, never at import time.
"""

from __future__ import annotations

from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent
CONFIG_DIR: Path = ROOT / "config"
TEMPLATES_DIR: Path = ROOT / "templates"
VAR_DIR: Path = ROOT / "var"
