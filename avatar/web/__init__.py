"""The avatar outside this program, in a browser: `avatar export --web` writes a folder with the
web player (built from web/ at the repository's root, shipped here in player/), the avatar as a
.webavatar file (avatar.model.web_format) and the expression sequences it plays."""

from avatar.web.export import PLAYER_FILES, export_web

__all__ = ["PLAYER_FILES", "export_web"]
