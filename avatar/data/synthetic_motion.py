"""Talking-head-like rig parameter sequences with a held-out test set, for synthetic captures.

Every track is a smooth path through random keyframes (smoothstep between keyframes, so each
frame is a convex combination of two neighbouring keyframes). The test frames are held out
by construction, in two ways:

* Expressions: a few disjoint pairs of blendshapes are reserved. Training never activates both
  shapes of a reserved pair in the same keyframe or in neighbouring keyframes, so no training
  frame has both non-zero. Every test keyframe activates one reserved pair strongly (|w| >= W),
  so every test frame is at least W/2 away from every training frame in expression space.
* Head pose (the root rotation vector, components pitch=x, yaw=y, roll=z), in normalised
  coordinates (yaw/30°, pitch/15°): a few held-out islands sit inside the pose box, one per
  quadrant. Training keyframes tour the box's edges and axes (random starting point), so the
  smoothstep path between them never comes within R_EXCLUDE of an island centre; each test
  segment moves inside one island (radius R_ISLAND). Test poses
  are therefore interpolations the model never saw (at least R_EXCLUDE - R_ISLAND away from every
  training pose), not extrapolations to surfaces no training frame showed. Neck rotation stays
  within +-1 deg.

Jaw opening, gaze, roll, neck and translation use the same ranges in both splits.
ARKit-named rigs get weights in [0, 1]; PCA rigs (no names) get signed weights of magnitude up
to 2 on their leading components (later ones carry little variance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avatar.rig import HeadRig, RigParams

YAW_MAX, PITCH_MAX, ROLL_MAX = 30.0, 15.0, 8.0  # degrees
NECK_MAX = 1.0  # degrees
GAZE_MAX = 15.0  # degrees
JAW_MAX = 0.3  # radians
TRANSLATION_MAX = 0.01  # metres
# Held-out pose islands, centres in normalised (yaw/YAW_MAX, pitch/PITCH_MAX) coordinates.
ISLANDS = ((0.5, 0.48), (-0.5, -0.48), (0.5, -0.48), (-0.5, 0.48))
R_ISLAND, R_EXCLUDE = 0.1, 0.45
# The training tour (normalised yaw, pitch): along the box's edges and its axes only, each at
# least R_EXCLUDE from every island centre.
TOUR = ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0), (-1, 0), (-1, -1), (0, -1), (0, 0), (0, 1), (-1, 1), (-1, 0),
        (0, 0), (0, -1), (1, -1), (1, 0))
PCA_LEADING = 20  # PCA rigs: only the leading components are animated
# Keyframe spacings in frames: jaw moves fastest (speech), head pose slowest.
EXPR_SPACING, JAW_SPACING, GAZE_SPACING, POSE_SPACING = 6, 4, 8, 10
TEST_SEGMENT = 10  # frames per held-out pose segment
NEUTRAL_KEY_PROB = 0.15  # training keyframes that relax to the neutral face


@dataclass
class MotionPlan:
    params: RigParams  # T = num_train + num_test time steps: training first, then test
    train_times: list[int]
    test_times: list[int]
    info: dict  # JSON-ready description of how the split was made and per-split ranges


@dataclass
class _ExprStyle:
    pool: np.ndarray  # indices of the animated blendshapes
    low: float  # magnitude range of an active training weight
    high: float
    held_low: float  # minimum magnitude of a reserved pair's weight in test keyframes
    signed: bool  # PCA weights take either sign


def make_motion(rig: HeadRig, num_train: int, num_test: int, seed: int = 0,
                random_identity: bool = False) -> MotionPlan:
    """Training and held-out test parameter sequences for `rig` (see the module docstring)."""
    if num_train < 2 or num_test < 1:
        raise ValueError(f"need num_train >= 2 and num_test >= 1, got {num_train} and {num_test}")
    if rig.num_expr < 2:
        raise ValueError(f"rig '{rig.name}' has {rig.num_expr} expressions; synthetic captures need >= 2")
    train_rng, test_rng = (np.random.default_rng([seed, k]) for k in (1, 2))
    style = _expr_style(rig)
    pairs = _reserved_pairs(style.pool, np.random.default_rng([seed, 0]))
    pair_sign = {int(i): 1.0 for p in pairs for i in p}
    if style.signed:
        pair_sign = {i: float(np.random.default_rng([seed, 3, i]).choice([-1.0, 1.0])) for i in pair_sign}

    train = _train_tracks(rig.num_expr, num_train, style, pairs, train_rng)
    segments = _segments(num_test)
    test = [_test_tracks(rig.num_expr, b - a, style, pairs, pair_sign, k, test_rng)
            for k, (a, b) in enumerate(segments)]
    tracks = {key: np.concatenate([train[key]] + [t[key] for t in test]) for key in train}
    shape = np.zeros(rig.num_shape, np.float32)
    if random_identity:
        shape = np.random.default_rng([seed, 4]).normal(0.0, 1.0, rig.num_shape).astype(np.float32)
    params = RigParams.from_numpy({"shape": shape, **tracks})
    params = params.to(dtype=rig.v_template.dtype, device=rig.v_template.device)

    train_times = list(range(num_train))
    test_times = list(range(num_train, num_train + num_test))
    names = rig.expr_names or [f"expr{i}" for i in range(rig.num_expr)]
    info = {
        "split_method": __doc__.strip(),
        "seed": seed,
        "identity": "random N(0, 1) shape coefficients from the seed" if random_identity else "neutral (zeros)",
        "expression_style": "pca (signed)" if style.signed else "arkit weights in [0, 1]",
        "animated_expressions": [names[i] for i in style.pool],
        "held_out_expression_pairs": [[names[i], names[j]] for i, j in pairs],
        "train_pose_region": f"|yaw| <= {YAW_MAX}, |pitch| <= {PITCH_MAX} degrees, outside radius {R_EXCLUDE} "
                             f"(in yaw/{YAW_MAX}, pitch/{PITCH_MAX} units) of the islands {ISLANDS}",
        "test_pose_region": f"inside radius {R_ISLAND} of one island per segment",
        "test_segments": [[num_train + a, num_train + b] for a, b in segments],
        "ranges": {"train": split_ranges(params.select(train_times)),
                   "test": split_ranges(params.select(test_times))},
        "measured_hold_out": _hold_out_margins(tracks, num_train),
    }
    return MotionPlan(params, train_times, test_times, info)


def split_ranges(params: RigParams) -> dict[str, list[float]]:
    """[min, max] of the quantities the split is defined on (degrees for angles)."""
    deg = lambda x: np.degrees(x.detach().cpu().double().numpy())  # noqa: E731
    rot, eyes = deg(params.rotation), deg(params.eyes)
    expr = params.expr.detach().cpu().double().numpy()
    jaw = params.jaw.detach().cpu().double().numpy()[:, 0]
    pose_l1 = np.abs(rot[:, 1]) / YAW_MAX + np.abs(rot[:, 0]) / PITCH_MAX
    span = lambda a: [round(float(a.min()), 4), round(float(a.max()), 4)]  # noqa: E731
    return {"pitch_deg": span(rot[:, 0]), "yaw_deg": span(rot[:, 1]), "roll_deg": span(rot[:, 2]),
            "pose_l1": span(pose_l1), "jaw_rad": span(jaw), "gaze_pitch_deg": span(eyes[:, 0]),
            "gaze_yaw_deg": span(eyes[:, 1]), "expr": span(expr),
            "active_expr_per_frame": span((np.abs(expr) > 0.05).sum(1))}


def _hold_out_margins(tracks: dict[str, np.ndarray], num_train: int) -> dict[str, float]:
    """Smallest distance from any test frame to any training frame (expression weights, and
    root yaw/pitch in degrees): what the construction guarantees, measured."""
    expr = tracks["expr"]
    yaw_pitch = np.degrees(tracks["rotation"][:, :2])
    nearest = lambda a: float(np.sqrt(((a[num_train:, None] - a[None, :num_train]) ** 2).sum(-1)).min())  # noqa: E731
    return {"min_expr_distance": round(nearest(expr), 4), "min_pitch_yaw_distance_deg": round(nearest(yaw_pitch), 4)}


def _expr_style(rig: HeadRig) -> _ExprStyle:
    if rig.expr_names is not None:
        return _ExprStyle(np.arange(rig.num_expr), 0.3, 1.0, 0.5, signed=False)
    return _ExprStyle(np.arange(min(rig.num_expr, PCA_LEADING)), 0.5, 2.0, 0.75, signed=True)


def _reserved_pairs(pool: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Disjoint pairs covering about half the pool (at least one pair)."""
    order = rng.permutation(pool)
    count = max(1, len(pool) // 4)
    return [(int(min(order[2 * k], order[2 * k + 1])), int(max(order[2 * k], order[2 * k + 1])))
            for k in range(count)]


def _smooth_track(keys: np.ndarray, spacing: int, num_frames: int) -> np.ndarray:
    """[K, D] keyframes every `spacing` frames -> [num_frames, D], smoothstep in between."""
    t = np.arange(num_frames) / spacing
    i = np.minimum(np.floor(t).astype(int), len(keys) - 2)
    a = t - i
    a = a * a * (3 - 2 * a)  # zero velocity at keyframes, and a stays in [0, 1]
    return (1 - a)[:, None] * keys[i] + a[:, None] * keys[i + 1]


def _num_keys(num_frames: int, spacing: int) -> int:
    return max(2, math.ceil((num_frames - 1) / spacing) + 1)


def _weights(rng: np.random.Generator, count: int, low: float, high: float, signed: bool) -> np.ndarray:
    w = rng.uniform(low, high, count)
    return w * rng.choice([-1.0, 1.0], count) if signed else w


def _train_expr_keys(num_expr: int, num_keys: int, style: _ExprStyle, pairs: list[tuple[int, int]],
                     rng: np.random.Generator) -> np.ndarray:
    """Sparse mixtures drawn from a shuffled deck (so every shape gets used), avoiding reserved pairs."""
    partner = {i: j for p in pairs for i, j in (p, p[::-1])}
    keys = np.zeros((num_keys, num_expr))
    deck: list[int] = []
    previous: set[int] = set()
    for k in range(num_keys):
        want = 0 if rng.uniform() < NEUTRAL_KEY_PROB else int(rng.integers(1, 4))
        if len(deck) < 2 * want:
            deck += [int(i) for i in rng.permutation(style.pool)]
        forbidden = {partner[i] for i in previous if i in partner}
        chosen: list[int] = []
        for pos, i in enumerate(deck):
            if len(chosen) == want:
                break
            if i not in forbidden and i not in chosen and partner.get(i) not in chosen:
                chosen.append(i)
                deck[pos] = -1
        deck = [i for i in deck if i >= 0]
        keys[k, chosen] = _weights(rng, len(chosen), style.low, style.high, style.signed)
        previous = set(chosen)
    return keys


def _test_expr_keys(num_expr: int, num_keys: int, style: _ExprStyle, pairs: list[tuple[int, int]],
                    pair_sign: dict[int, float], rng: np.random.Generator) -> np.ndarray:
    """Each keyframe: one reserved pair at strength >= held_low (one sign per shape, so blending
    two keyframes never cancels it) plus up to one shape outside every reserved pair."""
    free = np.array([i for i in style.pool if i not in pair_sign])
    keys = np.zeros((num_keys, num_expr))
    for k in range(num_keys):
        for i in pairs[int(rng.integers(len(pairs)))]:
            keys[k, i] = pair_sign[i] * rng.uniform(style.held_low, style.high)
        if len(free) and rng.uniform() < 0.5:
            keys[k, int(rng.choice(free))] = _weights(rng, 1, style.low, style.high, style.signed)[0]
    return keys


def _common_tracks(num_frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Jaw, gaze, neck and translation: same distribution for training and test."""
    jaw_keys = np.zeros((_num_keys(num_frames, JAW_SPACING), 3))
    jaw_keys[:, 0] = np.where(rng.uniform(size=len(jaw_keys)) < 0.3, 0.0,
                              rng.uniform(0.0, JAW_MAX, len(jaw_keys)))  # +x rotation opens the mouth
    gaze = np.radians(rng.uniform(-GAZE_MAX, GAZE_MAX, (_num_keys(num_frames, GAZE_SPACING), 2)))
    gaze_keys = np.concatenate([gaze, np.zeros((len(gaze), 1))], 1)  # both eyes look the same way
    n = _num_keys(num_frames, POSE_SPACING)
    neck_keys = np.radians(rng.uniform(-NECK_MAX, NECK_MAX, (n, 3)))
    trans_keys = rng.uniform(-TRANSLATION_MAX, TRANSLATION_MAX, (n, 3))
    eyes = _smooth_track(gaze_keys, GAZE_SPACING, num_frames)
    return {"jaw": _smooth_track(jaw_keys, JAW_SPACING, num_frames),
            "eyes": np.concatenate([eyes, eyes], 1),
            "neck": _smooth_track(neck_keys, POSE_SPACING, num_frames),
            "translation": _smooth_track(trans_keys, POSE_SPACING, num_frames)}


def _pose_keys(count: int, rng: np.random.Generator, island: int | None) -> np.ndarray:
    """Root rotation vectors [count, 3] (radians): the training sweep when island is None, else
    points inside held-out island `island`."""
    if island is None:
        pitch_yaw = _sweep_keys(count, rng)
    else:
        angle = rng.uniform(0, 2 * np.pi, count)
        radius = R_ISLAND * np.sqrt(rng.uniform(0, 1, count))
        cy, cp = ISLANDS[island]
        pitch_yaw = np.stack([(cp + radius * np.sin(angle)) * PITCH_MAX, (cy + radius * np.cos(angle)) * YAW_MAX], 1)
    roll = rng.uniform(-ROLL_MAX, ROLL_MAX, (count, 1))
    return np.radians(np.concatenate([pitch_yaw, roll], 1))


def _sweep_keys(count: int, rng: np.random.Generator) -> np.ndarray:
    """(pitch, yaw) [count, 2] in degrees: TOUR from a random starting point."""
    start = int(rng.integers(len(TOUR)))
    uv = np.array([TOUR[(start + k) % len(TOUR)] for k in range(count)], dtype=np.float64)
    return np.stack([uv[:, 1] * PITCH_MAX, uv[:, 0] * YAW_MAX], 1)


def _train_tracks(num_expr: int, num_frames: int, style: _ExprStyle, pairs: list[tuple[int, int]],
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    expr_keys = _train_expr_keys(num_expr, _num_keys(num_frames, EXPR_SPACING), style, pairs, rng)
    pose_keys = _pose_keys(_num_keys(num_frames, POSE_SPACING), rng, None)
    return {"expr": _smooth_track(expr_keys, EXPR_SPACING, num_frames),
            "rotation": _smooth_track(pose_keys, POSE_SPACING, num_frames),
            **_common_tracks(num_frames, rng)}


def _segments(num_test: int) -> list[tuple[int, int]]:
    """Test frame ranges [a, b) of about TEST_SEGMENT frames each."""
    count = max(1, round(num_test / TEST_SEGMENT))
    bounds = np.linspace(0, num_test, count + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _test_tracks(num_expr: int, num_frames: int, style: _ExprStyle, pairs: list[tuple[int, int]],
                 pair_sign: dict[int, float], segment: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    spacing = max(1, min(5, num_frames - 1))
    expr_keys = _test_expr_keys(num_expr, _num_keys(num_frames, spacing), style, pairs, pair_sign, rng)
    pose_keys = _pose_keys(_num_keys(num_frames, spacing), rng, segment % len(ISLANDS))
    return {"expr": _smooth_track(expr_keys, spacing, num_frames),
            "rotation": _smooth_track(pose_keys, spacing, num_frames),
            **_common_tracks(num_frames, rng)}

