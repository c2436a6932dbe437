"""The web player's levels of detail: the avatar's Gaussians put in level order, so that each
level is the file's first `count` Gaussians, and what each level costs against the full avatar.

The levels are the viewer's (avatar.renderer.lod): one ranking of the Gaussians by how much of the
avatar's images they make, over a few frames of a synthetic motion of its rig seen from the front
and turned, then each level's PSNR against the full avatar on other frames of that motion, at the
size the player draws by default. The export carries the full avatar and the viewer's coarsest
level (WEB_KEEP_FRACTIONS): a phone that misses its frame budget with the full avatar draws the
coarse one (web/src/level_switch.js) from the same upload. In the file the coarse level's
Gaussians come first, in the model's order (as `lod.pruned` keeps them, so a level read back
renders as the pruned model does), then the rest, in the model's order.
"""

from __future__ import annotations

from typing import Sequence

import torch

from avatar.data.synthetic_motion import make_motion
from avatar.model import Avatar
from avatar.renderer.lod import KEEP_FRACTIONS, levels_of_detail, taken
from avatar.rig import RigParams
from avatar.splat import Camera
from avatar.splat.framing import FRAMING_FOV_Y_DEG, framing_distance, head_target

WEB_KEEP_FRACTIONS = KEEP_FRACTIONS[-1:]  # besides the full avatar: the viewer's coarsest level (40 %)
# The frames behind the ranking and the measurement (as the viewer's build, viewer/detail.py, but
# measured from every turn the ranking saw: the page's viewer orbits, and a level of a trained
# avatar costs most seen from the side: 28-32 dB at 52-60 degrees where the front and 30 degrees
# give 43-50 dB). On a 109k-Gaussian avatar on one core the ranking's 60 renders at 256 px and the
# 40 measured at 512 px take about 7 s (docs/web.md, "Level of detail").
SEEN_FRAMES, EVALUATION_FRAMES = 12, 4
SEEN_YAWS = EVALUATION_YAWS = (0.0, 30.0, -30.0, 60.0, -60.0)
CONTRIBUTION_SIZE = 256  # pixels of the ranking's renders (the viewer's CONTRIBUTION_SIZE)
EVALUATION_SIZE = 512  # pixels of the measured renders: the player's largest default size


def in_level_order(avatar: Avatar, keep_fractions: Sequence[float] = WEB_KEEP_FRACTIONS) -> tuple[Avatar, list[dict]]:
    """(the avatar with its Gaussians reordered so that each level is a prefix, the levels finest
    first: {"count", "psnr_db", "psnr_min_db"}; the first is the full avatar, its PSNRs null).
    No keep fractions: the avatar as it is and one level."""
    model = avatar.model
    n = model.num_gaussians
    full = {"count": n, "psnr_db": None, "psnr_min_db": None}
    if not keep_fractions:
        return avatar, [full]
    seen, cameras, evaluation, evaluation_cameras = measured_on(avatar)
    with torch.no_grad():
        fractions = sorted(keep_fractions, reverse=True)
        levels = levels_of_detail(model, seen, cameras, evaluation, evaluation_cameras, fractions, avatar.background)
        # coarsest level first, then each finer level's own Gaussians, then the rest: a level is a
        # prefix; within each part the model's order
        tier = torch.full((n,), len(levels), dtype=torch.long)
        for k, level in enumerate(reversed(levels)):
            tier[level.indices] = torch.minimum(tier[level.indices], torch.tensor(k))
        order = torch.argsort(tier, stable=True)
        reordered = taken(model, order)
    listed = [full] + [
        {"count": level.kept, "psnr_db": round(level.psnr_mean, 2), "psnr_min_db": round(level.psnr_min, 2)}
        for level in levels
    ]
    settings = (avatar.identity_shape, avatar.background, avatar.settings, avatar.backend)
    return Avatar(reordered, *settings, avatar.expression_range, avatar.live_map), listed


def measured_on(avatar: Avatar) -> tuple[RigParams, list[Camera], RigParams, list[Camera]]:
    """What the levels come from (`lod.levels_of_detail`'s arguments): the frames the ranking
    renders and their cameras, the evaluation frames and theirs. The frames: a synthetic motion of
    the avatar's rig with its identity (training-like frames, then held-out ones)."""
    plan = make_motion(avatar.rig, SEEN_FRAMES, EVALUATION_FRAMES)
    params = plan.params.to(dtype=torch.float32, device="cpu")
    seen, _ = avatar.params(params.select(plan.train_times))
    evaluation, _ = avatar.params(params.select(plan.test_times))
    centre, extent = head_target(avatar.rig)
    distance = framing_distance(extent)

    def views(yaws: Sequence[float], size: int) -> list[Camera]:
        return [Camera.orbit(yaw, 0.0, distance, centre, size, size, FRAMING_FOV_Y_DEG) for yaw in yaws]

    return seen, views(SEEN_YAWS, CONTRIBUTION_SIZE), evaluation, views(EVALUATION_YAWS, EVALUATION_SIZE)
