"""The one render path of an avatar: rig parameters and a camera -> an image.

`AvatarRenderer` poses the rig, blends the Gaussians, splats them and cuts the image below the
head, on the model's device with its backends. Training, evaluation, `avatar render`, the API,
the viewer and the benchmark all render through it (exports for other tools: avatar.export).
Imports avatar.gaussians, avatar.splat, avatar.rig and avatar.data; nothing below it imports it.
"""

from avatar.renderer.renderer import AvatarRenderer, StageTimes

__all__ = ["AvatarRenderer", "StageTimes"]
