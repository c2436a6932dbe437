"""What a tracked clip covers and lacks (`capture.coverage`), on parameters whose turns, gaze,
jaw and expressions are set by hand."""

import math

import numpy as np
import pytest
import torch

from avatar.rig.loaders import load_rig
from capture.coverage import (GAZE_DEG, HEAD_YAW_DEG, JAW_OPEN_DEG, coverage, forward_in_camera, missing,
                              take_coverage, turns_deg)

pytest.importorskip("mediapipe", reason="capture needs the capture extra")
WORLD_TO_CAM = np.diag([1.0, -1.0, -1.0, 1.0])  # the tracker's camera: rig space's face looks at it


def clip(yaw_deg=(0.0,), pitch_deg=(0.0,), jaw_deg=0.0, blink=0.0):
    rig = load_rig("builtin")
    frames = max(len(yaw_deg), len(pitch_deg))
    params = rig.zero_params(frames)
    yaw = torch.tensor(yaw_deg * (frames // len(yaw_deg)))
    pitch = torch.tensor(pitch_deg * (frames // len(pitch_deg)))
    # yaw about the rig's up axis (a positive turn takes the face towards +x, the person's left), then pitch
    params.neck = torch.stack([-torch.deg2rad(pitch), torch.deg2rad(yaw), torch.zeros(frames)], -1)
    params.jaw[:, 0] = math.radians(jaw_deg)
    params.expr[:, rig.expr_names.index("eyeBlink_L")] = blink
    return rig, params


def test_turns_are_measured_as_the_camera_sees_them():
    rig, params = clip(yaw_deg=(-30.0, 0.0, 20.0))
    yaw, pitch = turns_deg(forward_in_camera(params, WORLD_TO_CAM))
    np.testing.assert_allclose(yaw, [-30.0, 0.0, 20.0], atol=1e-4)
    np.testing.assert_allclose(pitch, 0.0, atol=1e-4)
    _, params = clip(pitch_deg=(10.0,))
    assert turns_deg(forward_in_camera(params, WORLD_TO_CAM))[1][0] == pytest.approx(10.0, abs=1e-4)  # up


def test_a_still_frontal_clip_lacks_turns_gaze_a_wide_mouth_and_expressions():
    rig, params = clip()
    lacks = missing(coverage(rig, params, WORLD_TO_CAM))
    text = "\n".join(lacks)
    assert "turn the head slowly left and right" in text and "tilt the head up and down" in text
    assert "look left, right, up, down" in text and "open it wide" in text
    assert "eyeBlink reaches 0.00" in text and "close your eyes" in text


def test_a_clip_that_covers_the_targets_lacks_nothing_of_them():
    turns = tuple(float(a) for a in np.linspace(-HEAD_YAW_DEG - 5, HEAD_YAW_DEG + 5, 50))
    rig, params = clip(yaw_deg=turns, pitch_deg=tuple(float(a) for a in np.linspace(-20, 20, 50)),
                       jaw_deg=JAW_OPEN_DEG + 5, blink=0.9)
    eyes = torch.deg2rad(torch.linspace(-GAZE_DEG - 5, GAZE_DEG + 5, 50))
    params.eyes[:, 1] = params.eyes[:, 4] = eyes  # gaze sweeps left and right
    params.eyes[:, 0] = params.eyes[:, 3] = -eyes.flip(0)  # and down and up
    text = "\n".join(missing(coverage(rig, params, WORLD_TO_CAM)))
    assert "turn the head" not in text and "tilt the head" not in text and "the eyes never" not in text
    assert "open it wide" not in text and "eyeBlink" not in text
    assert "mouthSmile reaches" in text  # never smiled


def test_against_a_take_the_expressions_it_drives_beyond_the_clip_are_named():
    rig, params = clip(blink=0.3)
    take_rig, take = clip(blink=0.9)
    lacks = missing(coverage(rig, params, WORLD_TO_CAM), take_coverage(take_rig, take))
    assert any(lack.startswith("eyeBlink_L reaches 0.30, the take drives it to 0.90") for lack in lacks)
    assert not any("mouthSmile" in lack for lack in lacks)  # the take does not smile either
