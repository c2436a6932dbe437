"""Views from orbited cameras, held to the rig: the head stays solid where no camera looked.

A surface one camera saw edge-on (the far cheek of a near-profile video, an ear, the side of the
forehead) sits on the person's outline in every training frame, where half a pixel is the
background's: fading it is the cheapest fit, and it fades for every view. Seen squarely from
another camera it is a hole, showing the head's far side through it (a dark blotch), or shards.
No training frame can say otherwise, so each training frame also gets one view of its posed rig
from a camera orbited about the head (`TURN_DEG` of yaw either way, `PITCH_DEG` of pitch), drawn
once per frame; its render, at half the frame's size (the mirrored frames' `shrunk`), is held to
the rig without ground truth:
- solid (`hollow`): the mean of 1 - alpha over the rig's pixels the frame's cut keeps (less the
  outline's, where the pixel is partly background);
- painted from its surface (`behind_surface`): nothing more than the margin behind it;
- nothing beyond the head (`outside`): no opacity past the silhouette of the rig lifted by the
  hair's shell, grown by OUTSIDE_MARGIN_M, nor past the rig below the shell's start grown by the
  capture's hair margin, where hair hangs free of any shell (`allowed_pixels`). A training camera
  cannot say how deep the hair is along its rays, so Gaussians it placed too far out show, from
  anywhere else, as a head wider than the person's.
It teaches coverage and depth only, never colour: the colour of what no frame saw comes from the
mirrored frames and the rig's vertex colours (`avatar.training.mirrored`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

from avatar.data.capture import Capture
from avatar.rig import HeadRig, RigParams
from avatar.rig.face_region import nose_bottom_height
from avatar.rig.lbs import axis_angle_to_matrix
from avatar.renderer import AvatarRenderer
from avatar.splat import Camera
from avatar.splat.mesh_raster import faces_at_pixels
from avatar.training.behind_surface import surface_depth
from avatar.training.frame_memory import FrameMemory, KeptOrMade, tensor_bytes
from avatar.training.mirrored import shrunk

TURN_DEG = (15.0, 60.0)  # the orbit's yaw, drawn uniformly in this range, either way
PITCH_DEG = 20.0  # and its pitch, uniformly within +-this
OUTSIDE_MARGIN_M = 0.01  # metres past the lifted rig's silhouette before opacity counts as outside


def orbited(camera: Camera, centre: Tensor, yaw: float, pitch: float) -> Camera:
    """The camera moved on a sphere about centre [3] (world), by yaw about its own vertical axis
    and pitch about its horizontal one (radians), still looking at centre as before."""
    rotation = camera.world_to_cam[:3, :3]  # [3, 3] rows: the camera's x, y, z in the world
    # [3, 3] world rotation: yaw about the camera's y axis, pitch about its x axis (unit rows)
    turn = axis_angle_to_matrix(rotation[1] * yaw) @ axis_angle_to_matrix(rotation[0] * pitch)
    # A world point p is seen by the orbited camera as the old camera sees centre + turn^-1 (p - centre).
    moved = torch.eye(4, dtype=camera.world_to_cam.dtype, device=camera.world_to_cam.device)
    moved[:3, :3] = turn.T
    moved[:3, 3] = centre - turn.T @ centre
    return Camera(camera.K, camera.world_to_cam @ moved, camera.width, camera.height, camera.near, camera.far)


@dataclass
class OrbitedView:
    camera: Camera  # the orbited camera, at the mirrored frames' size (`shrunk`)
    surface: Tensor  # [h, w, 1] float16 metres: the rig's depth there (`surface_depth`), 0 off it
    region: Tensor | None  # [h, w, 1] uint8: what the frame's cut keeps there, or None
    allowed: Tensor | None  # [h, w, 1] bool: where the head may be (`allowed_pixels`), or None

    def nbytes(self) -> int:
        return tensor_bytes(self.surface, self.region, self.allowed)


def hanging_triangles(rig: HeadRig) -> Tensor | None:
    """[F] bool: the triangles whose rest centroid lies below the rig's nose bottom, where the
    hair's shell has faded out and hair hangs free; None for a rig without iBUG 68 landmarks."""
    height = nose_bottom_height(rig)
    if height is None:
        return None
    rest = rig.v_template.detach().float().cpu()  # [V, 3]
    return rest[rig.faces.cpu()].mean(1)[:, 1] < height


def allowed_pixels(
    rig: HeadRig,
    verts: Tensor,
    camera: Camera,
    lift_m: Tensor | None,
    margin_m: float,
    hanging: Tensor | None = None,
    hang_m: float = 0.0,
) -> Tensor:
    """[H, W, 1] bool: where the head posed as verts [V, 3] may be seen by camera: within margin_m
    (metres, at the head's depth) of the rig or of the rig lifted by lift_m [F] (metres each
    triangle's Gaussians start off it, the hair's shell; None: the bare rig alone), and within
    hang_m of the `hanging` [F] triangles. The lifted rig stays closed: each vertex moves along
    its normal by the mean lift of its triangles."""
    verts = verts.detach().float().cpu()
    faces = rig.faces.cpu()
    covered = faces_at_pixels(verts, faces, camera).face_id >= 0  # [H, W]
    if lift_m is not None:
        v0, v1, v2 = verts[faces].unbind(1)  # [F, 3] each
        area_normals = torch.linalg.cross(v1 - v0, v2 - v0)  # [F, 3], the binding's orientation
        normals = torch.zeros_like(verts).index_add_(0, faces.reshape(-1), area_normals.repeat_interleave(3, 0))
        lift = torch.zeros(verts.shape[0]).index_add_(0, faces.reshape(-1), lift_m.float().cpu().repeat_interleave(3))
        count = torch.zeros(verts.shape[0]).index_add_(0, faces.reshape(-1), torch.ones(faces.numel()))
        lifted = verts + F.normalize(normals, dim=-1) * (lift / count.clamp_min(1))[:, None]  # [V, 3]
        covered |= faces_at_pixels(lifted, faces, camera).face_id >= 0
    allowed = _grown(covered, margin_m, camera, verts)
    if hanging is not None and bool(hanging.any()):
        below = faces_at_pixels(verts, faces[hanging.cpu()], camera).face_id >= 0  # [H, W]
        allowed |= _grown(below, hang_m, camera, verts)
    return torch.from_numpy(np.ascontiguousarray(allowed))[..., None]


def _grown(pixels: Tensor, margin_m: float, camera: Camera, verts: Tensor) -> np.ndarray:
    """[H, W] bool: pixels [H, W] bool grown by margin_m metres at the depth of verts' [V, 3] centre."""
    depth = float(camera.to_camera(verts.mean(0))[2])
    radius = margin_m * float(camera.K[1, 1]) / max(depth, 1e-6)  # pixels
    covered = pixels.numpy()
    return ndimage.distance_transform_edt(~covered) <= radius if covered.any() else covered


class OrbitedViews:
    """Per training frame its `OrbitedView`, drawn from `seed` and the frame's index (the same on a
    resumed run), kept as far as `memory` allows."""

    def __init__(
        self,
        capture: Capture,
        frames: list[int],
        rig: HeadRig,
        params: RigParams,
        renderer: AvatarRenderer,
        seed: int,
        memory: FrameMemory,
        shell_m: Tensor | None = None,
        hang_m: float | None = None,
    ):
        """params [T]: every time step's tracking, on the renderer's device; shell_m [F]: metres
        each triangle's Gaussians start off it (`avatar.training.hair_lift`), or None; hang_m:
        the capture's hair margin (metres), to keep each view's `allowed_pixels` for `outside`,
        or None."""
        hanging = hanging_triangles(rig) if hang_m is not None else None

        def make(f: int) -> OrbitedView:
            generator = torch.Generator().manual_seed(seed * 1_000_003 + f)
            u = torch.rand(3, generator=generator).tolist()
            yaw = math.radians(TURN_DEG[0] + (TURN_DEG[1] - TURN_DEG[0]) * u[0]) * (1 if u[1] < 0.5 else -1)
            pitch = math.radians(PITCH_DEG * (2 * u[2] - 1))
            frame_params = params.frame(capture.frames[f].time)
            verts = renderer.poser()(frame_params)  # [V, 3]
            source = shrunk(capture.camera(f))
            centre = verts.detach().float().cpu().mean(0).to(source.world_to_cam)
            camera = orbited(source, centre, yaw, pitch)
            surface = surface_depth(rig, verts, camera).to(torch.float16)
            region = renderer.cut_region(frame_params, camera, verts)
            allowed = None
            if hang_m is not None:
                allowed = allowed_pixels(rig, verts, camera, shell_m, OUTSIDE_MARGIN_M, hanging, hang_m)
            return OrbitedView(camera, surface, None if region is None else region.to(torch.uint8), allowed)

        self.views = KeptOrMade(frames, make, OrbitedView.nbytes, memory, "orbited views")

    def __getitem__(self, frame: int) -> OrbitedView:
        return self.views[frame]


def hollow(alpha: Tensor, surface: Tensor, region: Tensor | None) -> Tensor:
    """The mean of 1 - alpha [h, w, 1] over the rig's pixels (surface [h, w, 1] > 0) that the
    cut's region keeps (None: all); 0 where the rig shows nowhere."""
    on_rig = (surface > 0).to(alpha)
    if region is not None:
        on_rig = on_rig * region.to(alpha)
    return ((1 - alpha) * on_rig).sum() / on_rig.sum().clamp_min(1)


def outside(alpha: Tensor, allowed: Tensor, surface: Tensor, region: Tensor | None) -> Tensor:
    """The opacity alpha [h, w, 1] puts past `allowed` [h, w, 1] (`allowed_pixels`) within the
    cut's region (None: everywhere), per pixel of the rig (surface [h, w, 1] > 0): a head drawn
    wider than the lifted rig by its own area scores 1."""
    beyond = (~allowed.to(alpha.device)).to(alpha)
    if region is not None:
        beyond = beyond * region.to(alpha)
    return (alpha * beyond).sum() / (surface > 0).sum().clamp_min(1)
