"""The fitted rig drawn over each tracked frame, for a person to check tracking by eye."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from avatar.splat.camera import Camera
from avatar.splat.mesh_raster import MeshRender, rasterize_mesh

MESH_OPACITY = 0.5
DETECTED_COLOUR = (40, 230, 40)  # landmarks MediaPipe found
FITTED_COLOUR = (230, 40, 40)  # the same landmarks on the fitted rig


def render_rig(verts: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor, camera: Camera) -> MeshRender:
    """The shaded posed mesh (vertices [V, 3]) as the camera sees it."""
    return rasterize_mesh(verts, faces, camera, colors)


def draw_overlay(image: np.ndarray, out: MeshRender, detected: np.ndarray | None = None,
                 fitted: np.ndarray | None = None) -> np.ndarray:
    """image [H, W, 3] uint8 with the rendered rig `out` blended over it and detected / fitted
    2-D landmarks ([N, 2] pixels) as dots."""
    alpha = out.mask.numpy() * MESH_OPACITY  # [H, W, 1]
    blended = image.astype(np.float32) * (1 - alpha) + out.rgb.numpy() * 255 * alpha
    canvas = np.ascontiguousarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8))
    radius = max(1, image.shape[0] // 256)
    for points, colour in ((detected, DETECTED_COLOUR), (fitted, FITTED_COLOUR)):
        if points is None:
            continue
        for x, y in points:
            cv2.circle(canvas, (int(x), int(y)), radius, colour, -1, lineType=cv2.LINE_AA)
    return canvas
