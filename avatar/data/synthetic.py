"""Synthetic captures: a rig driven by known parameters, rendered with the exact mesh rasterizer.

They are the ground truth for the demo and for end-to-end tests: the true rig parameters of
every frame are in the capture, and the test frames hold out expressions and head poses that
training never shows (see `avatar.data.synthetic_motion`).

Cameras are static. One camera looks at the face from the front; with several, they sit on a
horizontal arc from -60 to +60 degrees around the head, and camera `num_cameras // 2` is held
out: it renders only the training time steps, in split "test_camera" (novel view, seen
expressions), while "train" and "test" (held-out time steps) use the other cameras.

The background is white. Full-image PSNR on a synthetic capture is inflated by the many
trivially correct background pixels whatever the colour; white makes missing or transparent
parts of an avatar show up as errors against the (darker) skin rather than blending into black.
Masks are the mesh coverage, fractional at anti-aliased edges.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from avatar.data.capture import Capture, CameraInfo, CaptureWriter
from avatar.data.synthetic_motion import make_motion
from avatar.splat.camera import Camera
from avatar.splat.mesh_raster import rasterize_mesh
from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix

FPS = 25.0
FOV_Y_DEG = 22.0
# Towards the light in rest-head space (front, from above). The light turns with the head, so
# shading behaves like a texture: the captures test geometry and expressions, not relighting.
HEAD_LIGHT = (0.0, 0.4, 1.0)
ARC_DEG = 60.0  # multiview cameras span [-ARC_DEG, +ARC_DEG] of yaw around the head
FRAMING_MARGIN = 1.08  # the head's bounding sphere fills 1/1.08 of the field of view
VERTS_PER_BATCH = 16  # time steps posed at once (LBS memory grows with T x V)


def make_synthetic_capture(rig: HeadRig, out_dir: str | Path, num_train: int = 150,
                           num_test: int = 30, size: int = 128, num_cameras: int = 1,
                           seed: int = 0, supersample: int = 2,
                           background: tuple[float, float, float] = (1.0, 1.0, 1.0),
                           progress: bool = True, rig_spec: str | None = None,
                           random_identity: bool = False, overwrite: bool = False) -> Capture:
    """Render `rig` through a held-out-split motion into a capture directory at `out_dir`.

    rig_spec: the rig string recorded in the capture (default rig.name), so loaders can rebuild
    the rig. random_identity: a fixed random shape from the seed instead of the neutral identity.
    """
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    if num_cameras < 1:
        raise ValueError(f"num_cameras must be >= 1, got {num_cameras}")
    rig = rig.to(dtype=torch.float32)
    plan = make_motion(rig, num_train, num_test, seed, random_identity)
    verts = pose_all(rig, plan.params)  # [T, V, 3]
    cameras, target, distance = arc_cameras(verts, num_cameras, size)
    colors = rig.vertex_colors if rig.vertex_colors is not None else default_colors(rig.v_template)
    head_rotations = axis_angle_to_matrix(plan.params.rotation)  # [T, 3, 3]
    head_light = torch.tensor(HEAD_LIGHT)
    held_out = num_cameras // 2 if num_cameras > 1 else None

    infos = [CameraInfo(f"cam{i:02d}", c.K.double().numpy(), c.width, c.height,
                        c.world_to_cam.double().numpy()) for i, c in enumerate(cameras)]
    with CaptureWriter(out_dir, FPS, rig_spec or rig.name, infos, overwrite=overwrite) as writer:
        test_times = set(plan.test_times)
        jobs = [(t, c) for t in plan.train_times + plan.test_times for c in range(num_cameras)
                if not (c == held_out and t in test_times)]
        splits: dict[str, list[int]] = {"train": [], "test": []}
        if held_out is not None:
            splits["test_camera"] = []
        coverage = []
        for t, c in tqdm(jobs, desc="synthetic capture", disable=not progress, unit="frame"):
            out = rasterize_mesh(verts[t], rig.faces, cameras[c], colors, background=background,
                                 supersample=supersample, light_dir=head_rotations[t] @ head_light)
            image = (out.rgb.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            mask = (out.mask[..., 0] * 255).round().to(torch.uint8).numpy()
            coverage.append(float(out.mask.mean()))
            index = writer.add_frame(t, c, image, mask)
            split = "test_camera" if c == held_out else "test" if t in test_times else "train"
            splits[split].append(index)

        extra = {
            "generator": "avatar.data.synthetic.make_synthetic_capture",
            "motion": plan.info,
            "render": {"rasterizer": "avatar.splat.mesh_raster", "supersample": supersample,
                       "background": [float(b) for b in background], "fov_y_deg": FOV_Y_DEG,
                       "shading": "vertex colour x (ambient + diffuse), light fixed to the head (front, from above)",
                       "foreground_fraction": [round(min(coverage), 4), round(max(coverage), 4)]},
            "cameras": {"layout": "front" if num_cameras == 1 else f"arc of yaw +-{ARC_DEG} deg",
                        "target": [round(float(x), 6) for x in target], "distance": round(distance, 6),
                        "held_out_camera": held_out,
                        "splits": "train/test: held-out time steps on the kept cameras; test_camera: the "
                                  "held-out camera at the training time steps" if held_out is not None
                                  else "train/test: held-out time steps"},
        }
        return writer.finish(plan.params, splits, extra)


def pose_all(rig: HeadRig, params: RigParams) -> torch.Tensor:
    """Posed vertices [T, V, 3] for every time step, in batches to bound LBS memory."""
    with torch.no_grad():
        batches = [rig.forward(params.select(list(range(a, min(a + VERTS_PER_BATCH, params.num_frames)))))
                   for a in range(0, params.num_frames, VERTS_PER_BATCH)]
    return torch.cat(batches)


def arc_cameras(verts: torch.Tensor, num_cameras: int,
                size: int) -> tuple[list[Camera], torch.Tensor, float]:
    """Static cameras framing every posed vertex [T, V, 3]: front, or an arc of +-ARC_DEG yaw.

    Returns the cameras, the point they look at [3] and their distance from it.
    """
    flat = verts.reshape(-1, 3)
    target = (flat.amin(0) + flat.amax(0)) / 2
    radius = float((flat - target).norm(dim=1).max())
    # A sphere of radius r at distance d subtends a half-angle asin(r / d).
    distance = FRAMING_MARGIN * radius / math.sin(math.radians(FOV_Y_DEG) / 2)
    angles = [0.0] if num_cameras == 1 else np.linspace(-ARC_DEG, ARC_DEG, num_cameras).tolist()
    cameras = [Camera.orbit(a, 0.0, distance, target.tolist(), size, size, FOV_Y_DEG) for a in angles]
    return cameras, target, distance


def default_colors(v_template: torch.Tensor) -> torch.Tensor:
    """[V, 3] a neutral grey varying smoothly with rest position, so motion is visible."""
    lo, hi = v_template.amin(0), v_template.amax(0)
    unit = (v_template - lo) / (hi - lo).clamp_min(1e-9)  # [V, 3] in [0, 1]
    return (0.55 + 0.25 * (unit - 0.5)).clamp(0, 1)
