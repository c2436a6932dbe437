"""`avatar eval-live`: the avatar scored as the live viewer drives it (viewer/live_eval.py), beside
the offline score, on the shared real capture (skips without mediapipe or ../shared/data)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

pytest.importorskip("mediapipe", reason="live tracking needs mediapipe (the capture extra)")


def test_eval_live_writes_both_scores(real_capture, real_avatar, tmp_path):
    from avatar.cli.main import main

    out = tmp_path / "live.json"
    assert main(["eval-live", str(real_avatar), str(real_capture), "--device", "cpu", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    variants = report["variants"]
    assert set(variants) == {"offline", "live_expression", "live_raw_expression", "live_pose", "live_full"}
    for metrics in variants.values():
        assert metrics["frames"] == report["frames"] > 0
        assert math.isfinite(metrics["psnr"]) and 0 < metrics["ssim"] <= 1
    for name, gap in report["psnr_gap_db"].items():
        assert gap == pytest.approx(variants["offline"]["psnr"] - variants[name]["psnr"])
    # The offline variant is exactly `avatar eval`'s evaluation of the split.
    from avatar.data.capture import load_capture
    from avatar.model import load_avatar
    from avatar.training.evaluate import evaluate

    offline = evaluate(load_avatar(real_avatar).renderer, load_capture(real_capture), "test")
    assert variants["offline"]["psnr"] == pytest.approx(offline["psnr"], abs=1e-6)
    # Live parameters are finite and not the offline ones.
    for name in ("live_expression", "live_raw_expression", "live_full"):  # live_pose: offline expressions
        diff = report["param_diff"][name]
        values = [diff["expr_mad_mean"], diff["jaw_mad_rad"], diff["eyes_mad_rad"], diff["rotation_deg_mean"]]
        assert all(math.isfinite(v) for v in values)
        assert diff["expr_mad_mean"] > 0
        assert all(math.isfinite(d["mad"]) and math.isfinite(d["live_mean"]) for d in diff["per_expression"].values())
    assert report["param_diff"]["live_expression"]["rotation_deg_mean"] == pytest.approx(0, abs=1e-6)  # offline pose
    assert report["param_diff"]["live_pose"]["expr_mad_mean"] == 0  # offline expression
    assert report["tracking"]["calibration"]["done"] and report["tracking"]["live_focal"] > 0


def test_live_steps_match_the_tracker_thread():
    """The functions eval-live runs are the ones TrackerThread calls (no copy to drift apart)."""
    import inspect

    from viewer import live_eval, tracking

    assert live_eval.calibrate_fitter is tracking.calibrate_fitter and live_eval.live_params is tracking.live_params
    assert "calibrate_fitter(" in inspect.getsource(tracking.Calibrator)
    source = inspect.getsource(tracking.TrackerThread)
    assert "Calibrator(" in source and "set_neutral(neutral, expression=False)" in source and "live_params(" in source
    assert "set_neutral(neutral, expression=False)" in inspect.getsource(live_eval.track_live)


def test_absolute_rotation_undoes_the_retarget():
    from avatar.rig.lbs import axis_angle_to_matrix, matrix_to_axis_angle
    from viewer.live_eval import _absolute_rotation

    absolute = torch.tensor([[0.1, -0.3, 0.05]], dtype=torch.float64)
    neutral = torch.tensor([0.2, 0.1, -0.1], dtype=torch.float64)
    relative = matrix_to_axis_angle(axis_angle_to_matrix(absolute)
                                    @ axis_angle_to_matrix(neutral[None]).transpose(-1, -2))
    assert np.allclose(_absolute_rotation(relative, neutral).numpy(), absolute.numpy(), atol=1e-6)
