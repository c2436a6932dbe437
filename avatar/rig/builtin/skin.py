"""Skinning of the builtin head: LBS weights [V, 5] and the joint regressor [5, V].

Joints are [root, neck, jaw, eye_l, eye_r]. The neck tube blends root (its base) into neck
(everything above); the lower face below the lip line, the chin and the top of the throat
follow the jaw with a hard split at the mouth slit (upper lip 0, lower lip 1) that softens
past the mouth corners along a line rising towards the jaw hinge in front of the ears; eyeballs
follow their eye joints; the mouth pouch follows its lip edge (upper half head, lower half jaw).
"""

from __future__ import annotations

import numpy as np

from avatar.rig.builtin.grid import LID_POCKET, HeadGrid

ROOT, NECK, JAW, EYE_L, EYE_R = range(5)
JAW_HINGE_Y = -0.03  # jaw joint height; it sits on the midline between the ears (x = 0, z = 0)
NECK_JOINT_Y = -0.13
NECK_BLEND = (-0.19, -0.115)  # root below the first height, head above the second
CORNER_ROUNDING = 0.01  # metres around each mouth corner where the lips share the jaw motion


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def lower_face_side(grid: HeadGrid) -> np.ndarray:
    """[V] 0 above / 1 below the lip line: exact at the slit, a widening ramp past its corners.

    The dividing line runs from each mouth corner up to the jaw hinge level at the ear.
    Pouch vertices take the value of their slit-loop vertex (the closing vertex 0.5).
    """
    g = grid
    mouth_theta = g.theta_rows[g.mouth_slit.row]
    corner = g.phi_cols[g.mouth_slit.j1]
    past = np.clip((np.abs(g.skin_phi) - corner) / (np.pi / 2 - corner), 0.0, 1.0)  # 0 at corner, 1 at ear
    hinge_theta = np.pi / 2 + np.radians(15.0)
    line = mouth_theta + (hinge_theta - mouth_theta) * smoothstep(past)
    band = np.radians(1.7) + np.radians(25.0) * np.sqrt(past)
    s = g.skin_theta - line
    in_slit = np.isclose(g.skin_theta, mouth_theta) & (np.abs(g.skin_phi) < corner - 1e-9)
    s = np.where(in_slit, np.where(g.lower_copy, band, -band), s)
    side = np.full(g.num_vertices, 0.5)
    split = smoothstep((s + band) / (2 * band))
    # Round the corners of the opening: both lips drift towards 0.5 within ~1 cm of a corner.
    to_corner = np.hypot((g.skin_theta - mouth_theta) * 0.1, (np.abs(g.skin_phi) - corner) * 0.09)  # metres
    side[: g.num_skin] = split + (0.5 - split) * (1.0 - smoothstep(to_corner / CORNER_ROUNDING))
    loop_side = side[g.mouth_loop]
    for ring in g.mouth_rings:
        side[ring] = loop_side
    side[g.mouth_centre] = loop_side.mean()
    return side


def lbs_weights(grid: HeadGrid, rest: np.ndarray) -> np.ndarray:
    """[V, 5] skinning weights (rows sum to 1) from the grid and rest positions [V, 3]."""
    g = grid
    y = rest[:, 1]
    w = np.zeros((g.num_vertices, 5))
    head = smoothstep((y - NECK_BLEND[0]) / (NECK_BLEND[1] - NECK_BLEND[0]))
    phi = np.zeros(g.num_vertices)
    phi[: g.num_skin] = g.skin_phi
    behind_ear = smoothstep((np.abs(phi) - np.radians(50)) / np.radians(45))
    # The jaw lets go below the mandible's lower border, which rises from the chin to below the
    # ear; under the chin the throat follows the jaw further down.
    lateral = smoothstep(np.abs(phi) / np.radians(80))
    border = -0.118 + 0.04 * lateral
    fade = 0.045 - 0.01 * lateral
    throat = smoothstep((y - border + fade) / fade)
    jaw = lower_face_side(g) * (1.0 - behind_ear) * throat
    jaw[g.region == LID_POCKET] = 0.0
    w[:, ROOT] = 1.0 - head
    w[:, JAW] = jaw * head
    w[:, NECK] = head - w[:, JAW]
    for k, joint in enumerate((EYE_L, EYE_R)):
        w[g.eyeballs[k]] = 0.0
        w[g.eyeballs[k], joint] = 1.0
    return w


def _nearest_in_column(grid: HeadGrid, rest: np.ndarray, phi: float, y: float) -> int:
    """The grid vertex of the column at azimuth phi whose rest height is closest to y."""
    j = int(np.argmin(np.abs(np.angle(np.exp(1j * (grid.phi_cols - phi))))))
    column = grid.vid(np.arange(1, len(grid.theta_rows) - 1), j)
    return int(column[np.argmin(np.abs(rest[column, 1] - y))])


def joint_regressor(grid: HeadGrid, rest: np.ndarray) -> np.ndarray:
    """[5, V]: each joint is the mean of a few symmetric vertices, so it moves with identity.

    root: the bottom pole and four neck-base vertices; neck: four vertices around the neck at
    NECK_JOINT_Y; jaw: the two skin points straight left/right at JAW_HINGE_Y (mean on the
    midline, z = 0); eyes: front and back pole of each eyeball (the exact centre).
    """
    g = grid
    quarter = (0.0, np.pi / 2, -np.pi / 2, np.pi)
    groups = [
        [int(g.vid(len(g.theta_rows) - 1, 0))] + [_nearest_in_column(g, rest, p, -1.0) for p in quarter],
        [_nearest_in_column(g, rest, p, NECK_JOINT_Y) for p in quarter],
        [_nearest_in_column(g, rest, p, JAW_HINGE_Y) for p in quarter[1:3]],
        [int(g.eyeballs[0][0]), int(g.eyeballs[0][-1])],
        [int(g.eyeballs[1][0]), int(g.eyeballs[1][-1])],
    ]
    reg = np.zeros((5, g.num_vertices))
    for joint, ids in enumerate(groups):
        reg[joint, ids] = 1.0 / len(ids)
    return reg
