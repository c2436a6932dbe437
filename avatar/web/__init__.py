"""The web player as the package ships it: `player/` (built from web/ at the repository's root by
`npm run build`; committed, so exporting needs no node) and `headless`, which opens an exported
folder in headless Chromium for tests and benchmarks. `avatar.export.web_folder` writes the
folder a browser opens."""

from pathlib import Path

PLAYER_DIR = Path(__file__).parent / "player"
PLAYER_FILES = ("index.html", "player.js")

__all__ = ["PLAYER_DIR", "PLAYER_FILES"]
