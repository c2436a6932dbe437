"""Pure-PyTorch differentiable Gaussian rasterizer: the correctness oracle of every other backend.

Semantics (the cpu/cuda kernels copy these exactly):

1. Projection (avatar.splat.projection): camera-space mean t; Gaussians with t.z <= near or
   t.z > far are culled. 2D covariance = J W Sigma W^T J^T (J at t with t.x/t.z, t.y/t.z clamped
   as gsplat `_persp_proj`), + 0.3 px^2 on the diagonal, conic = its inverse, mean2d = K t / t.z.
   Pixel (u, v) is sampled at its centre (u + 0.5, v + 0.5).
2. Colour: sh_to_colour(sh, mean - camera.view_origin) = max(SH + 0.5, 0) (avatar.splat.sh): seen
   from the camera's centre unless the camera names another point (`Camera.sh_origin`).
3. Extent: a Gaussian can only contribute where alpha = opacity * exp(-1/2 d^T conic d) >= 1/255.
   radii = ceil(sqrt(2 ln(255 opacity)) * sqrt(lambda_max(cov2d))), 0 when culled (depth range,
   opacity < 1/255, or that square misses the image). The pixels actually visited here are the
   exact alpha >= 1/255 ellipse (plus a rounding slack), which changes no result.
4. Compositing, per pixel, front to back over the Gaussians sorted by t.z (ties: lower index
   first), starting with T = 1:
       power = -1/2 d^T conic d;  alpha = min(0.99, opacity * exp(power))
       skip the Gaussian if power > 0 or alpha < 1/255
       T_next = T (1 - alpha); if T_next < 1e-4: stop, WITHOUT adding this Gaussian (3DGS rule)
       w = alpha T; rgb += w colour; alpha_acc += w; depth += w t.z; T = T_next
   rgb = sum w colour + (1 - alpha_acc) background, alpha = alpha_acc (= 1 - T_final),
   depth = sum w t.z (not normalised).

Implementation (exactly equivalent to that per-pixel loop, which tests/test_render_reference.py
runs as the oracle): without gradients, the (Gaussian, pixel) pairs inside each Gaussian's alpha
ellipse are enumerated row by row in depth order, in chunks of ~PAIRS_PER_CHUNK pairs. In each
chunk pairs with alpha < 1/255 or on an already stopped pixel are dropped, a stable sort on the
pixel id groups the rest per pixel (still front to back), and a segmented float64 cumulative sum
of log(1 - alpha), started from each pixel's carried log T, gives every pair's T_next. T only
decreases along a pixel, so "the first pair with T_next < 1e-4 and every later one" is simply
"T_next < 1e-4"; those pixels are marked stopped and later chunks skip them (whole rows at once).
Only the surviving pairs are then evaluated again with autograd, so time and memory scale with
the covered pixels and the visible layers, not with N x H x W.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from avatar.splat.world import Gaussians
from avatar.splat.camera import Camera
from avatar.splat.output import RenderOutput
from avatar.splat.projection import (
    ALPHA_MIN,
    ProjectedGaussians,
    alpha_extent_sq,
    opacity_aware_radii,
    project_gaussians,
)
from avatar.splat.sh import sh_degree_of, sh_to_colour

ALPHA_MAX = 0.99
TRANSMITTANCE_MIN = 1e-4
DEFAULT_MAX_PAIRS = 2**25  # ~33M (Gaussian, pixel) pairs: a few GB of temporaries
PAIRS_PER_CHUNK = 2**17  # front-to-back chunking: small enough to skip stopped pixels, big enough to vectorise
ELLIPSE_SLACK_PX = 1e-3  # widens the enumerated ellipse so float rounding never drops a contributing pixel


class RenderInputError(ValueError):
    """Inputs of the reference rasterizer are inconsistent or too large; the message says how."""


@dataclass
class _Pairs:
    """Contributing (Gaussian, pixel) pairs, grouped by pixel, front to back inside a pixel."""

    gaussian: Tensor  # [P] int64 Gaussian index
    pixel: Tensor  # [P] int64 row-major pixel index
    first_of_pixel: Tensor  # [P] index of the first pair of the same pixel
    centre_x: Tensor  # [P] pixel centre, render dtype
    centre_y: Tensor  # [P]


def splat_reference(
    gaussians: Gaussians, camera: Camera, background: Tensor | None = None, *, max_pairs: int = DEFAULT_MAX_PAIRS
) -> RenderOutput:
    """Render `gaussians` through `camera` (semantics in the module docstring); differentiable by
    autograd w.r.t. means, quats, scales, opacities and sh. background: [3] or None (black)."""
    _check_inputs(gaussians, camera, background)
    height, width = camera.height, camera.width
    proj, radii, colours, pairs, weights = _weighted_pairs(gaussians, camera, max_pairs)
    z, red, green, blue = (t.index_select(0, pairs.gaussian) for t in (proj.depths, *colours.unbind(-1)))  # [P]
    contributions = torch.stack([red, green, blue, z, torch.ones_like(z)], 1) * weights[:, None]  # [P, 5]
    image = contributions.new_zeros(height * width, 5).index_add(0, pairs.pixel, contributions)  # [H * W, 5]
    rgb, depth, acc = image[:, :3], image[:, 3:4], image[:, 4:]
    if background is not None:
        rgb = rgb + (1.0 - acc) * background.to(rgb)
    return RenderOutput(
        rgb=rgb.reshape(height, width, 3),
        alpha=acc.reshape(height, width, 1),
        depth=depth.reshape(height, width, 1),
        means2d=proj.means2d,
        radii=radii,
    )


def weight_sums_reference(gaussians: Gaussians, camera: Camera, *, max_pairs: int = DEFAULT_MAX_PAIRS) -> Tensor:
    """[N] each Gaussian's weight w summed over the pixels of its render through `camera` (what
    cuda_ext's splat_rasterize_weights computes): how much of the image it makes."""
    _check_inputs(gaussians, camera, None)
    _, _, _, pairs, weights = _weighted_pairs(gaussians, camera, max_pairs)
    return weights.new_zeros(gaussians.means.shape[0]).index_add(0, pairs.gaussian, weights)


def _weighted_pairs(
    g: Gaussians, camera: Camera, max_pairs: int
) -> tuple[ProjectedGaussians, Tensor, Tensor, "_Pairs", Tensor]:
    """g's projection, radii [N] and colours [N, 3], its contributing (Gaussian, pixel) pairs and
    their weights w [P]."""
    height, width = camera.height, camera.width
    proj = project_gaussians(g.means, g.quats, g.scales, camera)
    radii = opacity_aware_radii(proj, g.opacities.detach(), width, height)  # [N]
    cam_pos = camera.to(device=g.means.device, dtype=g.means.dtype).view_origin  # [3] in the render precision
    colours = sh_to_colour(g.sh, g.means - cam_pos)  # [N, 3]

    pairs = _contributing_pairs(proj, g.opacities.detach(), radii, width, height, max_pairs)
    # One 1D gather per attribute: their backward (1D index_add) is much cheaper on CPU than
    # the 2D gather of a stacked [N, C] table.
    mean_x, mean_y, a, b, c, opacity = (
        t.index_select(0, pairs.gaussian) for t in (*proj.means2d.unbind(-1), *proj.conics.unbind(-1), g.opacities)
    )  # [P] each
    dx, dy = pairs.centre_x - mean_x, pairs.centre_y - mean_y
    power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
    alpha = (opacity * torch.exp(power)).clamp(max=ALPHA_MAX)  # [P]
    # T before each pair: a segmented float64 sum of log(1 - alpha) (float32 would lose ~1e-3
    # relative accuracy over millions of pairs).
    log_keep = torch.log1p(-alpha.double())  # [P]
    exclusive = torch.cumsum(log_keep, 0) - log_keep  # [P] over all earlier pairs, any pixel
    transmittance = torch.exp(exclusive - exclusive.index_select(0, pairs.first_of_pixel)).to(alpha.dtype)
    return proj, radii, colours, pairs, alpha * transmittance


def check_gaussians(g: Gaussians) -> int:
    """The SH degree of `g`; RenderInputError for inconsistent shapes (any splat backend)."""
    n = g.means.shape[0]
    expected = {"means": (n, 3), "quats": (n, 4), "scales": (n, 3), "opacities": (n,)}
    for name, shape in expected.items():
        if tuple(getattr(g, name).shape) != shape:
            raise RenderInputError(f"Gaussians.{name} has shape {tuple(getattr(g, name).shape)}, expected {shape}")
    if g.sh.dim() != 3 or g.sh.shape[0] != n or g.sh.shape[2] != 3:
        raise RenderInputError(f"Gaussians.sh has shape {tuple(g.sh.shape)}, expected ({n}, K, 3)")
    return sh_degree_of(g.sh.shape[1])


def _check_inputs(g: Gaussians, camera: Camera, background: Tensor | None) -> None:
    check_gaussians(g)
    if not g.means.is_floating_point():
        raise RenderInputError(f"Gaussians.means must be floating point, got {g.means.dtype}")
    if background is not None and tuple(background.shape) != (3,):
        raise RenderInputError(f"background has shape {tuple(background.shape)}, expected (3,)")
    if camera.width <= 0 or camera.height <= 0:
        raise RenderInputError(f"camera size {camera.width}x{camera.height} is empty")


def _segmented_exclusive_cumsum(values: Tensor, pixel: Tensor, num_pixels: int) -> Tensor:
    """[P] sum of `values` over the earlier pairs of the same pixel (`pixel` grouped, i.e. sorted)."""
    exclusive = torch.cumsum(values, 0) - values  # [P] over all earlier pairs, any pixel
    return exclusive - exclusive.index_select(0, _segment_first(pixel, num_pixels))


def _segment_first(pixel: Tensor, num_pixels: int) -> Tensor:
    """[P] index of the first pair of each pair's pixel (pairs grouped by pixel)."""
    counts = torch.bincount(pixel, minlength=num_pixels)  # [H * W]
    return (torch.cumsum(counts, 0) - counts).index_select(0, pixel)


@torch.no_grad()
def _contributing_pairs(
    proj: ProjectedGaussians, opacities: Tensor, radii: Tensor, width: int, height: int, max_pairs: int
) -> _Pairs:
    """The (Gaussian, pixel) pairs that contribute to the image, grouped by pixel, front to back.

    Rows of the ellipses are walked front to back in chunks of ~PAIRS_PER_CHUNK pairs, carrying
    each pixel's log T and whether it has stopped: later chunks skip stopped pixels (whole rows
    of them without enumerating), so a dense cloud costs about what its visible layers cost.
    """
    visible = torch.nonzero(radii > 0).squeeze(1)  # [V] ascending index
    visible = visible.index_select(0, torch.sort(proj.depths.index_select(0, visible), stable=True).indices)
    rows = _EllipseRows.build(proj, opacities, visible, width, height, max_pairs)  # depth order, ties by index
    pairs_before_row = torch.cumsum(rows.count, 0) - rows.count  # [R]
    total = int(rows.count.sum())
    if total > max_pairs:
        raise RenderInputError(
            f"splat_reference: the visible Gaussians cover {total} (Gaussian, pixel) pairs, more than "
            f"max_pairs={max_pairs}; render smaller, with fewer or smaller Gaussians, or use the cpu/cuda backend"
        )
    starts = torch.arange(0, total, PAIRS_PER_CHUNK, device=radii.device)
    bounds = torch.searchsorted(pairs_before_row, starts).tolist() + [rows.count.numel()]

    state = _PixelState(width, height, proj.means2d.device)
    kept_rows, kept_pixels = [rows.count[:0]], [rows.count[:0].int()]  # empty starts: nothing may be visible
    for start, stop in zip(bounds[:-1], bounds[1:]):
        chunk = state.rows_not_stopped(rows, torch.arange(start, stop, device=radii.device))  # [r] row ids
        owner, local = _expand_counts(rows.count.index_select(0, chunk))  # [p] chunk-local row, column offset
        row = chunk.index_select(0, owner)  # [p]
        pixel = rows.pixel_start.index_select(0, row) + local  # [p]
        alpha = rows.alpha(row, local)  # [p], 0 where the pair does not count
        live = torch.nonzero((alpha > 0) & ~state.stopped.index_select(0, pixel)).squeeze(1)
        # Rows were walked Gaussian by Gaussian in depth order, so a stable sort on the pixel id
        # alone yields front-to-back order inside each pixel. int32 keys take torch's fast radix path.
        pixel, order = torch.sort(pixel.index_select(0, live).to(torch.int32), stable=True)
        live = live.index_select(0, order)
        alive = state.composite(pixel.long(), alpha.index_select(0, live))
        kept_rows.append(row.index_select(0, live.index_select(0, alive)))
        kept_pixels.append(pixel.index_select(0, alive))

    pixel, order = torch.sort(torch.cat(kept_pixels), stable=True)  # chunks came in depth order
    pixel = pixel.long()
    row = torch.cat(kept_rows).index_select(0, order)
    y = rows.y.index_select(0, row)  # [P] pixel row
    dtype = proj.means2d.dtype
    return _Pairs(
        gaussian=rows.gaussian.index_select(0, row),
        pixel=pixel,
        first_of_pixel=_segment_first(pixel, width * height),
        centre_x=(pixel - y * width).to(dtype) + 0.5,
        centre_y=y.to(dtype) + 0.5,
    )


class _PixelState:
    """Per pixel: float64 log transmittance so far, and whether compositing has stopped."""

    def __init__(self, width: int, height: int, device: torch.device):
        self.width, self.height = width, height
        self.log_t = torch.zeros(height * width, dtype=torch.float64, device=device)  # [H * W]
        self.stopped = torch.zeros(height * width, dtype=torch.bool, device=device)  # [H * W]

    def rows_not_stopped(self, rows: "_EllipseRows", chunk: Tensor) -> Tensor:
        """The ids in `chunk` of the rows that still cross a pixel that has not stopped."""
        stopped = self.stopped.view(self.height, self.width).to(torch.int32)
        prefix = torch.nn.functional.pad(torch.cumsum(stopped, 1), (1, 0)).flatten()  # [H * (W + 1)]
        first = rows.pixel_start.index_select(0, chunk) + rows.y.index_select(0, chunk)  # [r] in the padded prefix
        count = rows.count.index_select(0, chunk)
        num_stopped = prefix.index_select(0, first + count) - prefix.index_select(0, first)
        return chunk.index_select(0, torch.nonzero(num_stopped < count).squeeze(1))

    def composite(self, pixel: Tensor, alpha: Tensor) -> Tensor:
        """Apply the front-to-back rule to pairs grouped by pixel (all behind what came before);
        returns the indices of the pairs that contribute and updates the state."""
        log_keep = torch.log1p(-alpha.double())  # [p]
        log_t_next = (
            self.log_t.index_select(0, pixel)
            + _segmented_exclusive_cumsum(log_keep, pixel, self.width * self.height)
            + log_keep
        )
        go_on = log_t_next >= math.log(TRANSMITTANCE_MIN)  # T only decreases: the first failure and all later fail
        alive = torch.nonzero(go_on).squeeze(1)
        self.log_t.index_add_(0, pixel.index_select(0, alive), log_keep.index_select(0, alive))
        self.stopped.index_fill_(0, pixel.index_select(0, torch.nonzero(~go_on).squeeze(1)), True)
        return alive


@dataclass
class _EllipseRows:
    """The image rows of each Gaussian's alpha >= ALPHA_MIN ellipse, Gaussian by Gaussian.

    Per row, the exact x-span of a dx^2 + 2 b dx dy + c dy^2 <= k (widened by ELLIPSE_SLACK_PX):
    this visits ~pi/4 of the bounding box, less for thin ellipses, and the alpha test on each
    pair still decides. Also per row, the coefficients of power(dx) = -(q2 dx + q1) dx - q0.
    """

    gaussian: Tensor  # [R] Gaussian index
    y: Tensor  # [R] image row
    pixel_start: Tensor  # [R] row-major index of the span's first pixel
    count: Tensor  # [R] pixels in the span (may be 0)
    first_dx: Tensor  # [R] first pixel centre - mean x; this and below in the render dtype
    q2: Tensor  # [R] conic a / 2
    q1: Tensor  # [R] conic b * dy
    q0: Tensor  # [R] conic c * dy^2 / 2
    opacity: Tensor  # [R]

    @staticmethod
    def build(
        proj: ProjectedGaussians, opacities: Tensor, visible: Tensor, width: int, height: int, max_pairs: int
    ) -> "_EllipseRows":
        f64, dtype = torch.float64, proj.means2d.dtype
        mean_x, mean_y = proj.means2d.index_select(0, visible).to(f64).unbind(-1)  # [V] each
        a, b, c = proj.conics.index_select(0, visible).to(f64).unbind(-1)  # [V] each
        opacity = opacities.index_select(0, visible)  # [V]
        k = alpha_extent_sq(opacity.to(f64))  # [V]
        half_height = torch.sqrt(k * proj.cov2d[:, 2].index_select(0, visible).to(f64)) + ELLIPSE_SLACK_PX
        row_lo = _pixel_index_at_or_after(mean_y - half_height, height)  # [V]
        row_hi = _pixel_index_at_or_before(mean_y + half_height, height)  # [V]
        num_rows = (row_hi - row_lo + 1).clamp(min=0)  # [V]
        if int(num_rows.sum()) > max_pairs:
            raise RenderInputError(
                f"splat_reference: the visible Gaussians cross more than max_pairs={max_pairs} "
                f"image rows in total; render smaller or with fewer or smaller Gaussians"
            )
        owner, local = _expand_counts(num_rows)  # [R] each
        y = row_lo.index_select(0, owner) + local  # [R]

        a, b, c, k, mean_x = (t.index_select(0, owner) for t in (a, b, c, k, mean_x))
        dy = y.to(f64) + 0.5 - mean_y.index_select(0, owner)  # [R]
        disc = (b * dy) ** 2 - a * (c * dy * dy - k)
        half_width = torch.sqrt(disc.clamp(min=0.0)) / a + ELLIPSE_SLACK_PX  # [R]
        centre_x = mean_x - b * dy / a  # [R]
        col_lo = _pixel_index_at_or_after(centre_x - half_width, width)
        col_hi = _pixel_index_at_or_before(centre_x + half_width, width)
        count = (col_hi - col_lo + 1).clamp(min=0)
        col_lo = col_lo.clamp(max=width - 1)  # an empty span right of the image still starts on row y
        return _EllipseRows(
            gaussian=visible.index_select(0, owner),
            y=y,
            pixel_start=y * width + col_lo,
            count=count,
            first_dx=(col_lo.to(f64) + 0.5 - mean_x).to(dtype),
            q2=(0.5 * a).to(dtype),
            q1=(b * dy).to(dtype),
            q0=(0.5 * c * dy * dy).to(dtype),
            opacity=opacity.index_select(0, owner),
        )

    def alpha(self, row: Tensor, local: Tensor) -> Tensor:
        """[p] alpha of the pixel `local` columns into the span of `row`; 0 where power > 0 or
        alpha < ALPHA_MIN."""
        dx = local.to(self.q2.dtype) + self.first_dx.index_select(0, row)  # [p]
        power = -(self.q2.index_select(0, row) * dx + self.q1.index_select(0, row)) * dx - self.q0.index_select(0, row)
        alpha = (self.opacity.index_select(0, row) * torch.exp(power)).clamp(max=ALPHA_MAX)
        return torch.where((power <= 0) & (alpha >= ALPHA_MIN), alpha, torch.zeros_like(alpha))


def _pixel_index_at_or_after(coord: Tensor, size: int) -> Tensor:
    """First pixel whose centre (i + 0.5) is >= coord, clamped to [0, size]."""
    return torch.ceil(coord.clamp(-1.0, size + 1.0) - 0.5).clamp(0, size).long()


def _pixel_index_at_or_before(coord: Tensor, size: int) -> Tensor:
    """Last pixel whose centre (i + 0.5) is <= coord, clamped to [-1, size - 1]."""
    return torch.floor(coord.clamp(-1.0, size + 1.0) - 0.5).clamp(-1, size - 1).long()


def _expand_counts(counts: Tensor) -> tuple[Tensor, Tensor]:
    """counts [V] >= 0 -> (owner i [M], j [M]) for every 0 <= j < counts[i], owner-major."""
    total = int(counts.sum())
    owner = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts, output_size=total)
    start = torch.cumsum(counts, 0) - counts  # [V]
    return owner, torch.arange(total, device=counts.device) - start.index_select(0, owner)
