"""The avatar outside this program, every format in one place:

    ply.py          Gaussians as a standard 3DGS .ply (the axes other tools expect)
    ply_frame.py    one posed frame of an avatar, cut below the head, as such a .ply (`avatar export --ply`)
    gltf.py         the animated glTF for engines (`avatar export --gltf`; gltf_rig.py, gltf_splats.py)
    web_format.py   the .webavatar file the web player reads
    web_levels.py   its levels of detail: the Gaussians in level order, each level's cost
    web_folder.py   the web player's folder: player, .webavatar, sequences, manifest (`avatar export --web`)

Imports avatar.model and the layers below it; nothing in the library below avatar.training imports it.
"""

from avatar.export.gltf import export_gltf
from avatar.export.ply import write_3dgs_ply
from avatar.export.ply_frame import export_frame
from avatar.export.web_folder import PlayerMissingError, export_web
from avatar.export.web_format import WebAvatarError, read_web_avatar, read_web_levels, write_web_avatar

__all__ = [
    "PlayerMissingError",
    "WebAvatarError",
    "export_frame",
    "export_gltf",
    "export_web",
    "read_web_avatar",
    "read_web_levels",
    "write_3dgs_ply",
    "write_web_avatar",
]
