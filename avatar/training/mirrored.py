"""Training frames mirrored left-right: the side a camera saw, shown where it never looked.

A monocular video sees one side of the head, or both only at grazing angles; what it never saw
trains into shards and noise that a turned camera shows. A face is nearly symmetric, so a frame
flipped left-right is the mirrored head (`avatar.rig.mirror`: mirrored parameters) seen by the
mirrored camera (`Camera.mirrored`). Training on it fills in what the video lacks, and only
that:
- each pixel's gradient is weighted by how little the triangle it shows was seen in the real
  training frames (`pixel_weights`), so surfaces the video saw face-on keep their own asymmetric
  detail (a mole, a parting) and surfaces it saw edge-on or never take their mirror's;
- the offsets that follow the head's pose are not driven (their drivers are zero): the room's
  light is not symmetric, and a mirrored turn would teach them the other side's light;
- it is an extra term of a step at half the frame's resolution (`SCALE`), not a step of its own:
  the real frames keep every step.
What it gives and costs is measured in docs/novel_views.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor
from tqdm import tqdm

from avatar.data.capture import Capture
from avatar.data.splits import spread
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.binding import triangle_frames
from avatar.gaussians.pose_drivers import NUM_POSE_DRIVERS
from avatar.splat import Camera
from avatar.splat.cut_region import known_region
from avatar.splat.mesh_raster import MeshRender, faces_at_pixels
from avatar.renderer import AvatarRenderer
from avatar.training.frame_memory import FrameMemory, KeptOrMade, tensor_bytes
from avatar.rig import HeadRig, RigParams
from avatar.rig.mirror import RigMirror

# A triangle counts as seen by a frame in proportion to how squarely it faced the camera there
# (cosine between its normal and the direction to the camera), from SEEN_FROM to SEEN_FULLY.
SEEN_FROM = 0.1
SEEN_FULLY = 0.5
SCALE = 2  # mirrored frames train at 1 / SCALE of the frame's width and height
# Training frames that say what the video saw, at most (evenly spaced): each is a full-size
# z-buffer on the CPU (0.4 s on a loaded machine: a 3-minute clip's 4,590 took about 30 minutes),
# and frames a few hundredths of a second apart see the same.
SEEN_FRAMES = 600
VISIBLE_DEPTH = 2e-3  # metres: a centroid this close behind the nearest surface at its pixel is that surface


def seen_fraction(rig: HeadRig, verts: Tensor, camera: Camera, mesh: MeshRender) -> Tensor:
    """[F] in [0, 1]: how squarely each triangle faces the camera where its centroid is not hidden
    (no nearer surface at its pixel than VISIBLE_DEPTH; triangles below a pixel count too)."""
    origin, rotation, _ = triangle_frames(verts.detach().float().cpu()[None], rig.faces.cpu())
    origin = origin[0]  # [F, 3]
    towards = camera.position.float()[None] - origin  # [F, 3]
    cos = (rotation[0, :, :, 2] * towards).sum(-1) / towards.norm(dim=-1).clamp_min(1e-9)  # [F]
    pixel = camera.project(origin).floor().long()  # [F, 2]
    inside = (pixel[:, 0] >= 0) & (pixel[:, 0] < camera.width) & (pixel[:, 1] >= 0) & (pixel[:, 1] < camera.height)
    pixel = pixel.clamp_min(0)
    depth = mesh.depth[pixel[:, 1].clamp_max(camera.height - 1), pixel[:, 0].clamp_max(camera.width - 1), 0]  # [F]
    visible = inside & (depth > 0) & (camera.to_camera(origin)[:, 2] <= depth + VISIBLE_DEPTH)
    return torch.where(visible, ((cos - SEEN_FROM) / (SEEN_FULLY - SEEN_FROM)).clamp(0, 1), torch.zeros_like(cos))


def pixel_weights(face_ids: np.ndarray, unseen: Tensor) -> np.ndarray:
    """[H, W] the unseen weight of the triangle each pixel shows; pixels off the mesh (hair beyond
    it, background) take the weight of the nearest pixel on it."""
    on_mesh = face_ids >= 0
    if not on_mesh.any():
        return np.ones(face_ids.shape, np.float32)
    _, (rows, cols) = ndimage.distance_transform_edt(~on_mesh, return_indices=True)
    nearest = face_ids[rows, cols]  # [H, W]
    return unseen.numpy()[nearest].astype(np.float32)


@dataclass
class MirroredFrame:
    """One training frame mirrored, at 1 / SCALE of its resolution."""

    params: RigParams  # [1] the mirrored pose and expression
    drivers: Tensor  # [D] the offsets' drivers, the pose's zeroed
    camera: Camera  # the mirrored camera, shrunk
    weights: Tensor  # [h, w, 1] how unseen each pixel's surface was
    region_u8: Tensor | None  # [h, w, 1] what the cut keeps, 0 / 1
    image_u8: Tensor  # [h, w, 3] the flipped target
    mask_u8: Tensor | None  # [h, w, 1] the flipped mask

    def image(self) -> Tensor:
        return self.image_u8.float() / 255

    def mask(self) -> Tensor | None:
        return None if self.mask_u8 is None else self.mask_u8.float() / 255

    def region(self) -> Tensor | None:
        return None if self.region_u8 is None else self.region_u8.float()

    def nbytes(self) -> int:
        return tensor_bytes(self.drivers, self.weights, self.region_u8, self.image_u8, self.mask_u8)


class MirroredFrames:
    """Per training frame its `MirroredFrame`: the mirrored parameters and camera, the offsets'
    drivers, the cut region there, the flipped target and mask, and the per-pixel weight of the
    mirrored image (how unseen each pixel's surface was). Kept as far as `memory` allows, made
    again when drawn beyond it (`frame_memory`)."""

    def __init__(
        self,
        capture: Capture,
        frames: list[int],
        model: GaussianAvatar,
        params: RigParams,
        renderer: AvatarRenderer,
        target: Callable[[int], tuple[Tensor, Tensor | None, Tensor | None]],
        memory: FrameMemory | None = None,
    ):
        """params [T] every time step's tracking (on the renderer's device); target(frame): its
        image [H, W, 3] and mask [H, W, 1] (or None) in [0, 1], as training sees them, and the
        pixels it knows [H, W, 1] (or None: all; `Capture.load_known`); memory:
        shared with the other per-frame data (default: no limit)."""
        rig = model.rig
        self.mirror = RigMirror.of(rig)
        cpu_rig = rig.to(device="cpu")
        seen = torch.zeros(rig.num_faces)
        for f in tqdm(spread(frames, SEEN_FRAMES), desc="what the video saw", leave=False, disable=None):
            verts = cpu_rig.forward(params.frame(capture.frames[f].time).to(device="cpu"))[0]
            camera = capture.camera(f)
            seen = torch.maximum(
                seen, seen_fraction(cpu_rig, verts, camera, faces_at_pixels(verts, cpu_rig.faces, camera))
            )
        self.unseen = 1 - seen  # [F]
        pose = slice(model.num_drivers - NUM_POSE_DRIVERS, None) if model.pose_drivers is not None else slice(0, 0)

        def make(f: int) -> MirroredFrame:
            mirrored = self.mirror.params(params.frame(capture.frames[f].time))
            camera = renderer.seen_from(mirrored, shrunk(capture.camera(f).mirrored()))  # colours as renders see them
            drivers = model.drivers(mirrored)[0].detach().clone()  # [D]
            drivers[pose] = 0
            image, mask, known = target(f)
            # the pixels the frame knows, flipped, at the shrunk camera: those whose whole block it knows
            known = None if known is None else (pooled(flip(known)) > 0.999).float().to(params.expr.device)
            region = known_region(renderer.cut_region(mirrored, camera), known)
            verts = cpu_rig.forward(mirrored.to(device="cpu"))[0]
            weights = pixel_weights(faces_at_pixels(verts, cpu_rig.faces, camera).face_id.numpy(), self.unseen)
            return MirroredFrame(
                mirrored,
                drivers,
                camera,
                torch.from_numpy(weights)[..., None].to(params.expr.device),
                None if region is None else region.to(torch.uint8),
                _to_uint8(pooled(flip(image))),
                None if mask is None else _to_uint8(pooled(flip(mask))),
            )

        self.frames = KeptOrMade(
            frames, make, MirroredFrame.nbytes, memory or FrameMemory(float("inf")), "mirrored frames"
        )

    def __getitem__(self, frame: int) -> MirroredFrame:
        return self.frames[frame]


def shrunk(camera: Camera) -> Camera:
    """The camera's view at 1 / SCALE of its width and height (pixel u -> u / SCALE)."""
    k = camera.K.clone()
    k[:2] /= SCALE
    return Camera(
        k, camera.world_to_cam, camera.width // SCALE, camera.height // SCALE, camera.near, camera.far, camera.sh_origin
    )


def pooled(image: Tensor) -> Tensor:
    """[H, W, C] averaged over SCALE x SCALE blocks: what `shrunk`'s camera sees of it."""
    return F.avg_pool2d(image.permute(2, 0, 1)[None], SCALE)[0].permute(1, 2, 0)


def _to_uint8(image: Tensor) -> Tensor:
    return (image * 255 + 0.5).to(torch.uint8)


def flip(image: Tensor | None) -> Tensor | None:
    """[H, W, C] flipped left-right (None stays None)."""
    return None if image is None else torch.flip(image, dims=[1])


def weighted(image: Tensor, weights: Tensor) -> Tensor:
    """image [H, W, C] with its gradient scaled per pixel by weights [H, W, 1] (its value unchanged)."""
    return weights * image + (1 - weights) * image.detach()
