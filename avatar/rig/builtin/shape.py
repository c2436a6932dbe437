"""The builtin head's rest surface: a smooth signed-distance sculpture, sampled by radial rays.

The skin is star-shaped about the origin (the head centre, at eye height), so every direction
(polar angle theta from +y, azimuth phi from +z towards +x) meets it exactly once; the mesh
is a (theta, phi) grid whose vertices are those hits. Features that must line up with grid
rows (lips against the mouth slit) are radial offsets in grid space, not SDF primitives.

Rig space: metres, y up, face toward +z, +x is the subject's left. Numbers are an average adult.
"""

from __future__ import annotations

import numpy as np

EYE_RADIUS = 0.012
EYE_CENTRE_L = np.array([0.032, 0.002, 0.060])  # subject's left eye (+x); right eye mirrors it
LID_RADIUS = EYE_RADIUS + 0.0012  # lids slide over the eyeball on this sphere (lid thickness)
EYE_ROW_THETA = np.pi / 2  # lids meet on the horizontal plane y = 0 when closed
MOUTH_Y = -0.066  # height of the lip line
NECK_BOTTOM_Y = -0.185
RAY_MAX = 0.21  # longer than the furthest surface point from the origin
RAY_MIN = 0.04  # everything this close to the origin is inside the cranium
MARCH_STEP = 0.003


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def _ellipsoid(p: np.ndarray, centre, radii) -> np.ndarray:
    """Approximate signed distance to an ellipsoid (exact zero set; Quilez's bound)."""
    q = (p - np.asarray(centre)) / np.asarray(radii)  # [N, 3]
    k0 = _norm(q)
    k1 = _norm(q / np.asarray(radii))
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _round_cone(p: np.ndarray, a, b, ra: float, rb: float) -> np.ndarray:
    """Distance to a segment a-b whose radius goes linearly from ra to rb (a tapered capsule)."""
    a, b = np.asarray(a), np.asarray(b)
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)  # [...]
    closest = a + t[..., None] * ab
    return _norm(p - closest) - (ra + (rb - ra) * t)


def _neck(p: np.ndarray) -> np.ndarray:
    """Elliptic cylinder from inside the head down to NECK_BOTTOM_Y, bottom edge rounded."""
    q = (p[..., [0, 2]] - np.array([0.0, -0.014])) / np.array([0.051, 0.056])
    radial = (_norm(q) - 1.0) * 0.051
    top, bottom, rounding = -0.03, NECK_BOTTOM_Y, 0.006
    vertical = np.abs(p[..., 1] - (top + bottom) / 2) - (top - bottom) / 2
    outside = np.linalg.norm(np.maximum(np.stack([radial, vertical], -1) + rounding, 0.0), axis=-1)
    return outside + np.minimum(np.maximum(radial, vertical) + rounding, 0.0) - rounding


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth union of two distance fields with blend width k."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k / 4.0


def mirrored(centre) -> list[np.ndarray]:
    """The subject's left (+x) and right (-x) copies of a point."""
    c = np.asarray(centre, dtype=np.float64)
    return [c, c * np.array([-1.0, 1.0, 1.0])]


def _near_rows(p: np.ndarray, centre, radius: float) -> np.ndarray:
    """Rows of p [N, M, 3] (samples along a segment each) whose segment enters a ball."""
    a, b = p[:, 0], p[:, -1]  # [N, 3]
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", np.asarray(centre) - a, ab)
                / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-20), 0.0, 1.0)
    gap = a + t[:, None] * ab - centre
    return np.einsum("ij,ij->i", gap, gap) < radius ** 2


def _blend(d: np.ndarray, p: np.ndarray, parts: list[tuple], k: float, carve: bool = False) -> None:
    """d <- smooth union (or with carve=True, smooth subtraction) of d and a feature, in place.

    parts: (centre, radius, field) per piece of the feature; the pieces are joined with a
    plain min first, so a left/right pair blends in symmetrically (smooth min is not
    associative). Rows whose samples stay outside every piece's ball (radius includes the
    blend width) are left unchanged: the speed-up that keeps the build under a second.
    """
    near = np.zeros(len(p), bool)
    for centre, radius, _ in parts:
        near |= _near_rows(p, centre, radius)
    q = p[near]
    feature = np.min([field(q) for _, _, field in parts], axis=0)
    d[near] = -smooth_min(-d[near], feature, k) if carve else smooth_min(d[near], feature, k)


def _pair(centre, radius: float, field) -> list[tuple]:
    """The left (+x) and right (-x) copies of a feature; field(q, c) takes the copy's centre."""
    return [(c, radius, lambda q, c=c: field(q, c)) for c in mirrored(centre)]


def head_sdf(p: np.ndarray) -> np.ndarray:
    """Signed distance (approximate, exact zero set) of the skin: negative inside.

    p [N, M, 3]: N rows of M samples along a segment each (rays), so that local features can
    be skipped row by row; returns [N, M].
    """
    d = _ellipsoid(p, (0, 0.018, -0.013), (0.074, 0.102, 0.097))  # cranium
    d = smooth_min(d, _ellipsoid(p, (0, -0.028, 0.028), (0.057, 0.058, 0.064)), 0.025)  # midface
    d = smooth_min(d, _ellipsoid(p, (0, -0.066, 0.012), (0.054, 0.048, 0.070)), 0.025)  # mandible
    d = smooth_min(d, _neck(p), 0.025)

    def ell(radii):
        return lambda q, c: _ellipsoid(q, c, radii)

    teeth_arch, chin = (0, -0.058, 0.058), (0, -0.095, 0.070)
    _blend(d, p, [(teeth_arch, 0.06, lambda q: _ellipsoid(q, teeth_arch, (0.032, 0.030, 0.035)))], 0.02)
    _blend(d, p, [(chin, 0.04, lambda q: _ellipsoid(q, chin, (0.021, 0.019, 0.020)))], 0.014)
    _blend(d, p, _pair((0.043, -0.012, 0.050), 0.04, ell((0.024, 0.017, 0.024))), 0.014)  # cheekbones
    _blend(d, p, _pair((0.036, -0.048, 0.050), 0.05, ell((0.024, 0.024, 0.026))), 0.02)  # cheeks
    _blend(d, p, _pair((0.072, -0.006, -0.014), 0.04, ell((0.011, 0.029, 0.019))), 0.008)  # ears
    _blend(d, p, _pair(EYE_CENTRE_L + (0, 0.001, 0.016), 0.03, ell((0.019, 0.014, 0.017))), 0.008, carve=True)
    brow_start = np.array([0.0, 0.020, 0.077])
    _blend(d, p, _pair((0.046, 0.021, 0.061), 0.05,
                       lambda q, end: _round_cone(q, brow_start, end, 0.011, 0.008)), 0.014)  # brow ridge
    nose_tip = (0, -0.029, 0.102)
    _blend(d, p, [((0, -0.011, 0.091), 0.035,
                   lambda q: _round_cone(q, (0, 0.004, 0.079), (0, -0.026, 0.103), 0.0065, 0.0085))], 0.008)
    _blend(d, p, [(nose_tip, 0.02, lambda q: _ellipsoid(q, nose_tip, (0.010, 0.010, 0.011)))], 0.006)
    _blend(d, p, _pair((0.012, -0.034, 0.089), 0.02, ell((0.008, 0.007, 0.009))), 0.006)  # alae
    _blend(d, p, _pair(EYE_CENTRE_L, LID_RADIUS + 0.006,
                       lambda q, c: _norm(q - c) - LID_RADIUS), 0.004)  # lids hug the eyeballs
    return d


def directions(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit vectors [N, 3] for polar angle theta (from +y) and azimuth phi (from +z to +x)."""
    s = np.sin(theta)
    return np.stack([s * np.sin(phi), np.cos(theta), s * np.cos(phi)], axis=-1)


def cast_rays(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Outermost skin point [N, 3] along each direction from the origin.

    Marches inward from RAY_MAX to the first inside sample, then bisects that interval.
    """
    d = directions(theta, phi)  # [N, 3]
    ts = np.arange(RAY_MAX, RAY_MIN, -MARCH_STEP)  # [M]
    inside = head_sdf(ts[None, :, None] * d[:, None, :]) < 0  # [N, M]
    if not inside.any(axis=1).all():
        raise RuntimeError("builtin head: a ray missed the skin (the sculpture is broken)")
    first = inside.argmax(axis=1)
    lo, hi = ts[first], ts[first] + MARCH_STEP  # inside at lo, outside at hi
    for _ in range(22):
        mid = 0.5 * (lo + hi)
        in_mid = head_sdf((mid[:, None] * d)[:, None, :])[:, 0] < 0
        lo, hi = np.where(in_mid, mid, lo), np.where(in_mid, hi, mid)
    return 0.5 * (lo + hi)[:, None] * d
