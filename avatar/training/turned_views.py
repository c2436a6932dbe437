"""How an avatar holds up where its video's camera never was, measured without ground truth.

A monocular video fixes each Gaussian's colour along the camera's rays but not how far along
them it sits: Gaussians can paint the face from far off their triangle, or stretch into needles,
and look right from the training camera. Turned 20-35° such an avatar shows shards, doubled
features and floaters. Two numbers see that:

- `outside_share`: of the opacity a render puts on the screen, the share that lies outside the
  posed rig's silhouette grown by the clip's hair margin (`hair_margin`: how far the person's
  matte reaches past the rig's outline in the training frames, in metres). From the training
  camera it is small by construction (the margin is a high percentile of the matte's reach);
  floaters raise it in turned views.
- `surface_shares`: of the face's Gaussians' opacity (the triangles the landmarks enclose, where
  the rig follows the person's own skin: `avatar.rig.face_region`), the share carried by
  Gaussians far off their triangle along its normal (`FAR_EDGES` edge lengths) and by needles
  (largest scale over the middle one beyond `NEEDLE_RATIO`): what breaks into shards and doubled
  features when the view moves. Hair stands off the scalp by right, so it is not counted.

`turned_camera` frames the head as `avatar render` does (`avatar.splat.framing`), orbited by a
yaw angle; the avatar is driven by parameters without translation (`Avatar.params`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from avatar.data.capture import Capture
from avatar.data.splits import spread
from avatar.gaussians import GaussianAvatar
from avatar.splat import Camera
from avatar.splat.framing import FRAMING_FOV_Y_DEG, framing_distance, head_target
from avatar.splat.mesh_raster import rasterize_mesh
from avatar.rig import HeadRig, RigParams
from avatar.rig.face_region import face_triangles

FAR_EDGES = 0.5  # a Gaussian this many mean edge lengths off its triangle's plane counts as far
NEEDLE_RATIO = 4.0  # largest scale over the middle one: beyond this a Gaussian is a needle
MARGIN_PERCENTILE = 99.0  # how far the matte reaches past the rig's outline: this percentile of its pixels
MARGIN_FRAMES = 12  # training frames the hair margin is measured on (evenly spaced)


@dataclass(frozen=True)
class SurfaceShares:
    far: float  # share of the face's opacity on Gaussians more than FAR_EDGES off their triangle's plane
    needle: float  # share of the opacity on needles (largest / middle scale > NEEDLE_RATIO)
    either: float  # share on Gaussians that are far, a needle or both
    normal_offset_median: float  # edge lengths
    anisotropy_median: float  # largest / smallest scale

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def surface_shares(model: GaussianAvatar) -> SurfaceShares:
    """The model's base Gaussians on the face (offsets not applied) measured against their triangles."""
    face = face_triangles(model.rig)[model.parent.cpu()]  # [N]
    with torch.no_grad():
        opacity = model.opacity().double().cpu()[face]  # [n]
        normal_offset = model.xyz[:, 2].abs().double().cpu()[face]  # [n] triangle units: mean edge lengths
        scales = torch.exp(model.log_scale).double().cpu().sort(dim=-1).values[face]  # [n, 3] ascending
    far = normal_offset > FAR_EDGES
    needle = scales[:, 2] / scales[:, 1].clamp_min(1e-12) > NEEDLE_RATIO
    total = float(opacity.sum()) or 1.0
    share = lambda flags: float(opacity[flags].sum()) / total  # noqa: E731
    return SurfaceShares(
        share(far),
        share(needle),
        share(far | needle),
        float(normal_offset.median()),
        float((scales[:, 2] / scales[:, 0].clamp_min(1e-12)).median()),
    )


def turned_camera(rig: HeadRig, yaw_deg: float, size: int, elevation_deg: float = 0.0) -> Camera:
    """A square camera framing the rest head as `avatar render --camera front` does, orbited by
    yaw_deg about the head's vertical axis (positive: towards the person's left)."""
    centre, extent = head_target(rig)
    return Camera.orbit(yaw_deg, elevation_deg, framing_distance(extent), centre, size, size, FRAMING_FOV_Y_DEG)


def silhouette(rig: HeadRig, verts: Tensor, camera: Camera) -> np.ndarray:
    """[H, W] bool: the pixels the posed rig (verts [V, 3]) covers."""
    colours = torch.zeros_like(verts)
    mesh = rasterize_mesh(verts.detach().float().cpu(), rig.faces.cpu(), camera, colours.cpu(), shading=False)
    return mesh.mask[..., 0].numpy() > 0.5


def distance_outside(inside: np.ndarray) -> np.ndarray:
    """[H, W] pixels from each pixel to the nearest pixel of `inside` (0 inside it)."""
    if not inside.any():
        return np.full(inside.shape, np.inf)
    return ndimage.distance_transform_edt(~inside)


def pixels_per_metre(camera: Camera, point: Tensor) -> float:
    """The focal length over the depth of `point` [3]: pixels a metre spans there."""
    depth = float(camera.to_camera(point.detach().float().cpu())[2])
    return float(camera.K[1, 1]) / max(depth, 1e-6)


def hair_margin(capture: Capture, rig: HeadRig, frames: list[int] | None = None) -> float:
    """Metres the person's matte reaches past the posed rig's outline in `frames` (default: up to
    MARGIN_FRAMES training frames, evenly spaced): the MARGIN_PERCENTILE of the distance of the
    matte's pixels outside the rig, converted at the depth of the head. 0 without masks (and
    where the matte never leaves the rig)."""
    frames = frames if frames is not None else spread(capture.splits.get("train", []), MARGIN_FRAMES)
    reach = []
    for f in frames:
        mask = capture.load_mask(f)
        if mask is None:
            continue
        params = capture.frame_params(f)
        verts = rig.forward(params)[0]  # [V, 3]
        camera = capture.camera(f)
        distance = distance_outside(silhouette(rig, verts, camera))
        matte = mask[..., 0].numpy() > 0.5
        outside = distance[matte & (distance > 0)]
        scale = pixels_per_metre(camera, verts.mean(0))
        reach.append(float(np.percentile(outside, MARGIN_PERCENTILE)) / scale if outside.size else 0.0)
    return float(np.median(reach)) if reach else 0.0


def outside_share(alpha: Tensor, inside: np.ndarray, margin_px: float) -> float:
    """Of the opacity alpha [H, W, 1] puts on the screen, the share beyond margin_px of `inside`."""
    a = alpha[..., 0].detach().double().cpu().numpy()
    total = a.sum()
    if total <= 0:
        return 0.0
    return float(a[distance_outside(inside) > margin_px].sum() / total)


def outside_share_of_render(rig: HeadRig, params: RigParams, camera: Camera, alpha: Tensor, margin_m: float) -> float:
    """`outside_share` of a render's alpha [H, W, 1] of one frame of params seen by camera, the
    rig's silhouette grown by margin_m metres at the depth of the head."""
    verts = rig.forward(params.to(device="cpu"))[0]  # [V, 3]
    margin_px = margin_m * pixels_per_metre(camera, verts.mean(0))
    return outside_share(alpha, silhouette(rig, verts, camera), margin_px)
