"""What a tracked video covers, and what it lacks: the head's turns, the mouth, the eyes and the
expressions an avatar will be driven through.

An avatar renders well what its video showed and guesses the rest: a head turned further than
the video turned it, a mouth opened wider, eyes looking up when they never did. `coverage`
measures the video's ranges; `missing` compares them with what driving asks of an avatar (the
`TARGETS` below, or the ranges of a Live Link take given to `avatar track --coverage-take`) and
says, in words a person can act on, what to record. docs/recording.md is the guide.
"""

from __future__ import annotations

import numpy as np
import torch

from avatar.gaussians.pose_drivers import head_orientation
from avatar.rig import HeadRig, RigParams
from avatar.rig.lbs import axis_angle_to_matrix

# What driving asks of an avatar, from what a webcam or Live Link takes drive (degrees, weights).
HEAD_YAW_DEG = 25.0  # each way: a user turns to look at something beside the screen
HEAD_PITCH_DEG = 15.0  # up and down
GAZE_DEG = 12.0  # the eyes up, down, left, right
JAW_OPEN_DEG = 15.0  # a mouth open wide (a yawn, an "ah")
# ARKit-named expressions (builtin, ICT): the weight a clip should reach, and what to do for it.
EXPRESSION_TARGETS = {
    "eyeBlink": (0.8, "close your eyes for a moment"),
    "mouthSmile": (0.5, "smile broadly"),
    "browInnerUp": (0.5, "raise your eyebrows"),
    "browDown": (0.4, "frown"),
    "mouthPucker": (0.4, "pucker your lips (an 'oo')"),
    "mouthFunnel": (0.4, "round your lips (an 'oh')"),
    "cheekPuff": (0.3, "puff your cheeks"),
}
TAKE_MARGIN = 0.15  # a take's weight this far above the clip's largest counts as beyond it
PERCENTILE = 98.0  # a clip's reach: ignores a frame or two of tracking noise


def forward_in_camera(params: RigParams, world_to_cam: np.ndarray) -> np.ndarray:
    """[T, 3] the direction the face looks in camera space (x right, y down, z away)."""
    forward = head_orientation(params).double() @ torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)  # [T, 3]
    return forward.numpy() @ np.asarray(world_to_cam, np.float64)[:3, :3].T


def turns_deg(forward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yaw (positive: towards the image's right, the person's left) and pitch (positive: up) of
    face directions [T, 3] in camera space; 0, 0 faces the camera."""
    yaw = np.degrees(np.arctan2(forward[:, 0], -forward[:, 2]))
    pitch = np.degrees(np.arctan2(-forward[:, 1], np.hypot(forward[:, 0], forward[:, 2])))
    return yaw, pitch


def gaze_deg(params: RigParams) -> tuple[np.ndarray, np.ndarray]:
    """[T] yaw and pitch (degrees, rig space: positive to the person's left and up) of the eyes,
    both eyes averaged, relative to the head."""
    eyes = params.eyes.double()
    forward = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    gaze = (axis_angle_to_matrix(eyes[:, :3]) @ forward + axis_angle_to_matrix(eyes[:, 3:]) @ forward) / 2  # [T, 3]
    g = gaze.numpy()
    return np.degrees(np.arctan2(g[:, 0], g[:, 2])), np.degrees(np.arctan2(g[:, 1], np.hypot(g[:, 0], g[:, 2])))


def coverage(rig: HeadRig, params: RigParams, world_to_cam: np.ndarray, seen: np.ndarray | None = None) -> dict:
    """The clip's ranges: head yaw and pitch as the camera saw them, gaze, the jaw's opening (its
    rotation's angle) and each named expression's weight (PERCENTILE of the frames for the reach,
    the 2nd percentile for the rest). Several cameras (world_to_cam [C, 4, 4], seen [C, T]: which
    saw the face at each time step): the head's turns as each camera saw them, pooled."""
    if np.ndim(world_to_cam) == 2:
        forward = forward_in_camera(params, world_to_cam)  # [T, 3]
    else:
        forward = np.concatenate([forward_in_camera(params, w)[s] for w, s in zip(world_to_cam, seen)])
    yaw, pitch = turns_deg(forward)
    eye_yaw, eye_pitch = gaze_deg(params)
    jaw = np.degrees(params.jaw.double().norm(dim=-1).numpy())
    low, high = 100.0 - PERCENTILE, PERCENTILE
    spread = lambda x: [round(float(np.percentile(x, low)), 2), round(float(np.percentile(x, high)), 2)]  # noqa: E731
    expressions = {}
    for i, name in enumerate(rig.expr_names or []):
        expressions[name] = spread(params.expr[:, i].double().numpy())
    return {
        "frames": params.num_frames,
        "head_yaw_deg": spread(yaw),
        "head_pitch_deg": spread(pitch),
        "gaze_yaw_deg": spread(eye_yaw),
        "gaze_pitch_deg": spread(eye_pitch),
        "jaw_open_deg": round(float(np.percentile(jaw, high)), 2),
        "expressions": expressions,
        "definition": f"ranges from the {_ordinal(low)} to the {_ordinal(high)} percentile of the tracked frames; head turns "
        "as the camera saw them (yaw positive to the person's left, pitch up), gaze relative to "
        "the head, the jaw's opening as its rotation angle",
    }


def _ordinal(value: float) -> str:
    """2 -> '2nd', 98 -> '98th'."""
    n = int(round(value))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def missing(report: dict, take: dict | None = None) -> list[str]:
    """What the clip lacks, as things to record (empty: nothing). take: a Live Link take's
    `coverage` (its expression reach) to compare the expressions with instead of the targets."""
    lacks = []
    yaw, pitch = report["head_yaw_deg"], report["head_pitch_deg"]
    turns = [side for side, reach in (("left", yaw[1]), ("right", -yaw[0])) if reach < HEAD_YAW_DEG]
    if turns:
        lacks.append(
            f"the head's yaw spans {yaw[0]:+.0f}° to {yaw[1]:+.0f}° (+: the person's left), short of "
            f"±{HEAD_YAW_DEG:.0f}°: turn the head slowly {' and '.join(turns)}, about "
            f"{HEAD_YAW_DEG + 5:.0f}° from facing the camera, and back"
        )
    nods = [side for side, reach in (("up", pitch[1]), ("down", -pitch[0])) if reach < HEAD_PITCH_DEG]
    if nods:
        lacks.append(
            f"the head's pitch spans {pitch[0]:+.0f}° to {pitch[1]:+.0f}° (+: up), short of "
            f"±{HEAD_PITCH_DEG:.0f}°: tilt the head {' and '.join(nods)}, about {HEAD_PITCH_DEG + 5:.0f}°"
        )
    gaze = [
        side
        for side, reach in (
            ("left", report["gaze_yaw_deg"][1]),
            ("right", -report["gaze_yaw_deg"][0]),
            ("up", report["gaze_pitch_deg"][1]),
            ("down", -report["gaze_pitch_deg"][0]),
        )
        if reach < GAZE_DEG
    ]
    if gaze:
        lacks.append(
            f"the eyes never looked {', '.join(gaze)} by {GAZE_DEG:.0f}°: with the head still, look {', '.join(gaze)}"
        )
    if report["jaw_open_deg"] < JAW_OPEN_DEG:
        lacks.append(f"the mouth opened at most {report['jaw_open_deg']:.0f}°: open it wide, as for a long 'ah'")
    expressions = report["expressions"]
    if take is not None:
        for name, (_, reach) in expressions.items():
            wanted = take["expressions"].get(name, [0.0, 0.0])[1]
            if wanted > reach + TAKE_MARGIN:
                lacks.append(f"{name} reaches {reach:.2f}, the take drives it to {wanted:.2f}")
    else:
        for stem, (target, action) in EXPRESSION_TARGETS.items():
            reach = [expressions[n][1] for n in expressions if _stem(n) == stem]
            if reach and max(reach) < target:
                lacks.append(f"{stem} reaches {max(reach):.2f} (of {target:.1f}): {action}")
    return lacks


def _stem(name: str) -> str:
    """An expression's name without its side (_L, _R, Left, Right)."""
    for suffix in ("_L", "_R", "Left", "Right"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def take_coverage(rig: HeadRig, take: RigParams) -> dict:
    """A driving take's `coverage` (its camera: facing it, as Live Link's head angles are)."""
    return coverage(rig, take, np.diag([1.0, -1.0, -1.0, 1.0]))
