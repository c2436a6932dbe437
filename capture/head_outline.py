"""The outline of the head above the ears: a cue for the head's pose that does not come from the face.

The face's landmarks fix where the face is, but an expression moves them in ways a fit can also
read as a nod or a step towards the camera: a surprised face (brows up, mouth open) comes out
slightly pitched and shifted, and the avatar's hair then overhangs the person's outline. The
outline of the hair does not move with the expression.

It is measured as a radius per direction: rays from the point between the eyes, fanned over the
top of the head from one side to the other (`ANGLES`, turned with the eye line), each ending
where the person's matte does. The rig's side of it is a shell over its skull, grown along the
surface normals by a per-video hair thickness that varies smoothly over the head (spherical
harmonics of the direction from the skull's centre); the shell's outline radius along a ray is
the farthest of its projected points within the ray's angular bin. Rays whose matte outline meets
the crop's or the frame's edge, or no shell point, do not count.

The shell must be able to take the head's real shape, or the fit moves the pose to make up for
it, by an amount that depends on which part of the shell a pose puts on the outline:
- The thickness is signed: where the rig's skull is wider than the person's head (short or flat
  hair, a narrow head), the shell goes inside it. A thickness kept positive could not, and the
  term would pull the whole head away from the camera instead.
- Degree 6 (49 coefficients), with a roughness penalty that keeps what no ray sees from
  wandering. A low degree cannot follow a crown that a head bent forward puts on the outline,
  so the fit pitches those frames instead; a higher degree follows the hair closer.

The measurements behind these choices are in docs/results.md ("Head outline").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from avatar.splat.sh import SH_C0
from avatar.rig import HeadRig, RigParams
from avatar.runtime.errors import InputError
from capture.fit.setup import project_cameras
from capture.harmonics import harmonic_degrees, real_harmonics
from capture.ibug68 import MP_TO_IBUG68, OUTER_EYE_CORNERS
from capture.fit.landmark_rig import LandmarkRig
from capture.surface import VertexSamples, vertex_samples

ANGLES = np.deg2rad(np.linspace(-105.0, 105.0, 43))  # from the head's up, towards the subject's left side first
BIN = float(ANGLES[1] - ANGLES[0])  # a shell point counts for the rays within this angle of it
RAY_STEP = 0.5  # pixels between matte samples along a ray
MATTE_GAP = 3.0  # pixels of background a ray crosses before the outline counts as reached (gaps in the hair)
EDGE_MARGIN = 2.0  # pixels: an outline this close to the crop's or the frame's edge is cut by it, not the head's
MAX_SHELL_POINTS = 600  # the cost of a step grows with points x rays x frames
INITIAL_HAIR = 0.01  # metres
ROBUST = 0.05  # inter-ocular distances: quadratic below, linear above (hair that moved, a bad matte)
HAIR_STEPS, HAIR_LR = 60, 2e-3  # the hair's thickness alone, before the poses move
HAIR_DEGREE = 6  # of the thickness's spherical harmonics: (HAIR_DEGREE + 1)^2 coefficients
HAIR_SMOOTHNESS = 0.1  # weight of the thickness's roughness (`OutlineTerm.roughness`) in the outline loss
EYE_LEFT, EYE_RIGHT = (MP_TO_IBUG68[i] for i in OUTER_EYE_CORNERS)  # MediaPipe, image left then right
BETWEEN_EYES = 168  # MediaPipe's nose bridge


@dataclass
class MatteOutline:
    centres: Tensor  # [T, 2] pixels: the rays' origin (between the eyes)
    ups: Tensor  # [T, 2] unit: the head's up in the image (perpendicular to the eye line)
    radii: Tensor  # [T, K] pixels from the centre to the matte's outline along each ray
    valid: Tensor  # [T, K] bool: the outline is the head's (not the crop's edge, inside the frame)


def ray_directions(ups: Tensor) -> Tensor:
    """[T, K, 2] unit image directions of the rays: `ups` [T, 2] turned by ANGLES (image y down,
    positive angles towards image left, the subject's right)."""
    a = torch.as_tensor(ANGLES, dtype=ups.dtype)
    cos, sin = torch.cos(a)[None], torch.sin(a)[None]  # [1, K]
    ux, uy = ups[:, :1], ups[:, 1:]
    return torch.stack([ux * cos + uy * sin, -ux * sin + uy * cos], -1)


def matte_outline(mattes: np.ndarray, in_frame: np.ndarray, landmarks: np.ndarray) -> MatteOutline:
    """The person's outline along the rays of each frame: mattes [T, H, W] in [0, 1], in_frame
    [T, H, W] (1 where the crop shows the video frame), landmarks [T, 478, 2+] MediaPipe points
    in the same pixels."""
    centres = torch.as_tensor(landmarks[:, BETWEEN_EYES, :2], dtype=torch.float32)
    eye_line = torch.as_tensor(landmarks[:, EYE_RIGHT, :2] - landmarks[:, EYE_LEFT, :2], dtype=torch.float32)
    return outline_along_rays(mattes, in_frame, centres, eye_line)


def outline_along_rays(mattes: np.ndarray, in_frame: np.ndarray, centres: Tensor, eye_line: Tensor) -> MatteOutline:
    """`matte_outline` with the rays' origins centres [T, 2] (between the eyes) and the eye lines
    eye_line [T, 2] (image left eye corner to image right one) given in the mattes' pixels."""
    t, height, width = mattes.shape
    ups = F.normalize(torch.stack([eye_line[:, 1], -eye_line[:, 0]], -1), dim=-1)  # image right -> up
    directions = ray_directions(ups)  # [T, K, 2]
    steps = torch.arange(0.0, float(np.hypot(height, width)), RAY_STEP)  # [R]
    points = centres[:, None, None, :] + steps[None, None, :, None] * directions[:, :, None, :]  # [T, K, R, 2]
    grid = torch.stack([points[..., 0] / width * 2 - 1, points[..., 1] / height * 2 - 1], -1)
    images = torch.as_tensor(np.stack([mattes, in_frame], 1), dtype=torch.float32)  # [T, 2, H, W]
    sampled = F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")  # [T, 2, K, R]
    person = sampled[:, 0] >= 0.5  # [T, K, R]
    gap = max(1, int(round(MATTE_GAP / RAY_STEP)))
    # The outline: the first sample that starts a run of `gap` background samples.
    background = F.pad((~person).float(), (0, gap - 1), value=1.0)
    run_out = background.unfold(-1, gap, 1).amin(-1) > 0.5  # [T, K, R]
    first_out = torch.where(run_out, torch.arange(len(steps)), len(steps)).amin(-1)  # [T, K]
    radii = steps[first_out.clamp(max=len(steps) - 1)]
    end = centres[:, None, :] + (radii[..., None] + EDGE_MARGIN) * directions  # just past the outline
    in_crop = (end[..., 0] >= 0) & (end[..., 0] < width) & (end[..., 1] >= 0) & (end[..., 1] < height)
    end_grid = torch.stack([end[..., 0] / width * 2 - 1, end[..., 1] / height * 2 - 1], -1)[:, :, None]
    shown = F.grid_sample(images[:, 1:], end_grid, align_corners=False)[:, 0, :, 0] >= 0.5  # [T, K]
    valid = person[..., 0] & (first_out < len(steps)) & in_crop & shown
    return MatteOutline(centres, ups, radii, valid)


@dataclass
class HeadShell:
    samples: VertexSamples  # the skull's vertices above the cut height, with rest-pose normals
    harmonics: Tensor  # [N, C] real spherical harmonics (degree HAIR_DEGREE) of each vertex's direction from `centre`
    centre: Tensor  # [3] rest pose, rig space: the skull's centre, the harmonics' origin


def head_shell(rig: HeadRig, height: float, max_points: int = MAX_SHELL_POINTS) -> HeadShell:
    """The rig's vertices above `height` (rest pose, rig space, metres; e.g. the bottom of the
    nose), thinned evenly to at most max_points."""
    rest = rig.v_template
    vertices = torch.nonzero(rest[:, 1] > height).flatten()
    if len(vertices) < 16:
        raise InputError(f"rig '{rig.name}' has too few vertices above {height:.3f} m for the head's outline")
    if len(vertices) > max_points:
        vertices = vertices[torch.linspace(0, len(vertices) - 1, max_points).round().long()]
    samples = vertex_samples(rig, vertices)
    centre = rest[vertices].mean(0)
    directions = F.normalize(rest[vertices] - centre, dim=-1)
    return HeadShell(samples, real_harmonics(HAIR_DEGREE, directions).float(), centre)


def thickness(harmonics: Tensor, coefficients: Tensor) -> Tensor:
    """[N] the hair's thickness (metres, signed: negative inside the skull) at each shell vertex
    from harmonics [N, C] and the video's coefficients [C]."""
    return harmonics @ coefficients


def initial_coefficients(metres: float) -> Tensor:
    """[C] coefficients of a uniform thickness of `metres`."""
    c = torch.zeros((HAIR_DEGREE + 1) ** 2)
    c[0] = metres / SH_C0  # the degree-0 harmonic, a constant
    return c


def shell_radii(pixels: Tensor, outline: MatteOutline) -> tuple[Tensor, Tensor]:
    """The shell's outline radius along each ray [T, K] from its projected points pixels
    [T, N, 2] (the farthest extent along the ray of the points within BIN of it), and [T, K]
    whether any point was. Rays are BIN apart, so a point is within BIN of at most the three
    rays nearest its angle: only those are measured ([T, N, 3] work, not [T, N, K])."""
    rel = pixels - outline.centres[:, None, :]  # [T, N, 2]
    up = outline.ups[:, None, :]  # [T, 1, 2]
    side = torch.stack([up[..., 1], -up[..., 0]], -1)  # the ray at +90 degrees
    angle = torch.atan2((rel * side).sum(-1), (rel * up).sum(-1))  # [T, N], as ANGLES count
    nearest = torch.round((angle.detach() - float(ANGLES[0])) / BIN).long()  # [T, N]
    directions = ray_directions(outline.ups)  # [T, K, 2]
    count = len(ANGLES)
    extent = torch.full((len(rel), count), -1.0, dtype=rel.dtype)
    for shift in (-1, 0, 1):
        ray = nearest + shift
        exists = (ray >= 0) & (ray < count)
        ray = ray.clamp(0, count - 1)
        d = directions.gather(1, ray[..., None].expand(-1, -1, 2))  # [T, N, 2]
        along = (rel * d).sum(-1)
        across = rel[..., 0] * d[..., 1] - rel[..., 1] * d[..., 0]
        near = exists & (across.abs() <= along * np.tan(BIN)) & (along > 0)
        extent = extent.scatter_reduce(1, ray, torch.where(near, along, torch.full_like(along, -1.0)), "amax")
    return extent.clamp_min(0.0), extent >= 0


def outline_errors(radii: Tensor, found: Tensor, outline: MatteOutline) -> tuple[Tensor, Tensor]:
    """Signed radius differences [T, K] (pixels, shell minus matte) and where they count [T, K]."""
    return radii - outline.radii, found & outline.valid


class OutlineTerm:
    """The head-outline loss of a batch of frames, with the video's hair thickness."""

    def __init__(self, rig: HeadRig, height: float, outline: MatteOutline, k_mats: Tensor, w2c: Tensor, iod: Tensor):
        """height: where the shell starts (rest pose, metres); k_mats [T, 3, 3], w2c [T, 4, 4]:
        the frames' cameras; iod [T]: the frames' inter-ocular distances (pixels)."""
        shell = head_shell(rig, height)
        self.harmonics, self.centre = shell.harmonics, shell.centre
        self.points = LandmarkRig(rig, shell.samples.faces, shell.samples.bary, shell.samples.normals)
        self.outline, self.k_mats, self.w2c, self.iod = outline, k_mats, w2c, iod
        self.hair = initial_coefficients(INITIAL_HAIR).requires_grad_(True)  # [C]
        degrees = harmonic_degrees(HAIR_DEGREE)
        self.roughness_weights = HAIR_SMOOTHNESS * degrees * (degrees + 1)  # [C]

    def errors(self, params: RigParams, posed: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """Signed outline errors [T, K] in pixels (shell minus matte) and where they count [T, K]."""
        points, normals = posed if posed is not None else self.points.posed(params)
        grown = points + thickness(self.harmonics, self.hair)[None, :, None] * F.normalize(normals, dim=-1)
        radii, found = shell_radii(project_cameras(grown, self.k_mats, self.w2c), self.outline)
        return outline_errors(radii, found, self.outline)

    def loss(self, params: RigParams, posed: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """Mean robust outline error over the counted rays, in inter-ocular distances squared
        (like one landmark, for errors below ROBUST), plus the thickness's roughness."""
        err, counts = self.errors(params, posed)
        e = err / self.iod[:, None]
        rho = 2 * ROBUST * ((e.pow(2) + ROBUST**2).sqrt() - ROBUST)  # ~ e^2 below ROBUST
        return (rho * counts).sum() / counts.sum().clamp_min(1) + self.roughness()

    def roughness(self) -> Tensor:
        """The thickness's squared gradient integrated over the sphere (Σ l(l+1) c², metres²), weighted:
        keeps the parts of the shell that no ray sees from wandering."""
        return (self.roughness_weights * self.hair.pow(2)).sum()

    def thickness_at(self, rest_points: Tensor) -> Tensor:
        """[N] metres: the fitted thickness in the directions of rest_points [N, 3] (rest pose, rig
        space) from the skull's centre, wherever they are (not only the shell's vertices)."""
        directions = F.normalize(rest_points - self.centre.to(rest_points), dim=-1)
        return thickness(real_harmonics(HAIR_DEGREE, directions).to(self.hair), self.hair.detach())

    def fit_hair(self, params: RigParams, thinness: float = 0.0) -> None:
        """The thickness alone, the poses held (they are nowhere near the matte before it).
        thinness: weight of the shell's mean squared thickness (metres²), which brings the parts
        no ray sees back towards the skull instead of carrying the seen thickness over them."""
        with torch.no_grad():
            posed = self.points.posed(params)
        optimizer = torch.optim.Adam([self.hair], lr=HAIR_LR)
        for _ in range(HAIR_STEPS):
            optimizer.zero_grad(set_to_none=True)
            loss = self.loss(params, posed)
            if thinness:
                loss = loss + thinness * thickness(self.harmonics, self.hair).pow(2).mean()
            loss.backward()
            optimizer.step()

    @torch.no_grad()
    def mean_abs_error(self, params: RigParams) -> np.ndarray:
        """[T] mean absolute outline error (pixels) over each frame's counted rays (NaN: none)."""
        err, counts = self.errors(params)
        total = (err.abs() * counts).sum(1)
        n = counts.sum(1)
        return torch.where(n > 0, total / n.clamp_min(1), torch.full_like(total, float("nan"))).numpy()
