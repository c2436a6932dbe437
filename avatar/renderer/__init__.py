"""The one render path of an avatar: rig parameters and a camera -> an image.

`AvatarRenderer` poses the rig, blends the Gaussians, splats them and cuts the image below the
head, on the model's device with its backends. Training, evaluation, `avatar render`, the API,
the viewer and the benchmark all render through it. Exports for other tools live here too: one
posed frame as a 3DGS .ply (`export.py`), the animated glTF for engines (`gltf_export.py`, with
`gltf_rig.py` and `gltf_splats.py`). Imports avatar.gaussians, avatar.render, avatar.rig and
avatar.data; nothing below it imports it.
"""

from avatar.renderer.renderer import AvatarRenderer, StageTimes

__all__ = ["AvatarRenderer", "StageTimes"]
