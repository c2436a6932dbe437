"""`avatar bench`: its scene, its JSON rows and its handling of unavailable backends."""

import json

import pytest
import torch

from avatar.bench.backends import OPS, BenchSize, bench_scene
from avatar.cli.main import main
from avatar.gaussians import blend
from avatar.rig.builtin import build_builtin_head

ROW_KEYS = {"backend": str, "op": str, "width": int, "height": int, "num_gaussians": int, "num_expr": int,
            "ms_median": float, "ms_min": float, "repeats": int, "device": str}


def test_bench_json_has_one_row_per_op(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--backends", "torch", "--sizes", "64x48:2000:5", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert sorted(r["op"] for r in rows) == sorted(OPS)
    assert {"blend", "splat_fwd", "splat_fwd_bwd", "frame", "train_step"} == set(OPS)  # the documented op names
    for r in rows:
        for key, kind in ROW_KEYS.items():
            assert isinstance(r[key], kind), f"{r['op']}: {key} = {r[key]!r} is not {kind.__name__}"
        assert (r["backend"], r["width"], r["height"], r["num_gaussians"], r["num_expr"]) == ("torch", 64, 48, 2000, 5)
        assert r["requested"] == "torch"
        assert 0 < r["ms_min"] <= r["ms_median"]
        assert r["repeats"] == 2
        assert r["device"].startswith("cpu")
        assert r["speedup_vs_torch"] == 1.0 and r["speedup_vs_gsplat"] is None


def test_bench_scene_has_the_exact_size_and_padded_expressions():
    model, params, camera = bench_scene(BenchSize(80, 60, 1000, 50))
    builtin = build_builtin_head()
    assert model.num_gaussians == 1000
    assert model.num_blend_expr == 50 and model.rig.num_expr == 50 and len(model.rig.expr_names) == 50
    assert torch.equal(model.rig.exprdirs[..., : builtin.num_expr], builtin.exprdirs)
    extra = model.rig.exprdirs[..., builtin.num_expr:]
    assert 0 < extra.abs().max() <= 0.002 + 1e-9
    assert torch.count_nonzero(params.expr[0, 50:]) == 0 and torch.count_nonzero(params.expr[0, :50]) > 0
    assert (camera.width, camera.height) == (80, 60)
    # The camera frames the head: every posed Gaussian centre lands inside the image, in front.
    with torch.no_grad():
        means = blend(model, params, "torch").means
    cam = means @ camera.world_to_cam[:3, :3].T + camera.world_to_cam[:3, 3]  # [N, 3]
    pixels = cam[:, :2] / cam[:, 2:] @ camera.K[:2, :2].T + camera.K[:2, 2]
    assert (cam[:, 2] > 0).all()
    assert ((pixels >= 0) & (pixels <= torch.tensor([80.0, 60.0]))).all()


def test_bench_runs_every_backend_on_the_one_device(capsys):
    """Backends for another device than --device are refused with the reason, not skipped."""
    assert main(["bench", "--quick", "--device", "cpu", "--sizes", "32x32:500:3"]) == 0
    printed = capsys.readouterr().out
    assert "32x32, 500 Gaussians, 3 expressions" in printed
    assert "\ntorch    cpu" in printed and "\ncpu      cpu" in printed  # the CPU's backends by default
    assert main(["bench", "--quick", "--device", "cpu", "--backends", "torch,gsplat", "--sizes", "32x32:500:3"]) == 2
    assert "'gsplat' splat backend computes on cuda tensors" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--backends", "vulkan"], ["--sizes", "64:2000"], ["--sizes", "0x64:10:1"],
                                  ["--repeat", "0"], ["--sizes", "32x32:99999999999999999999:2"],
                                  ["--sizes", "100000x64:10:1"], ["--sizes", "64x64:10:5000"]])
def test_bench_rejects_bad_options(argv, capsys):
    try:
        status = main(["bench", "--quick", *argv])
    except SystemExit as exit:  # refused by the parser itself (a documented bound): usage, then the error
        status = exit.code
    assert status == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: " in last_line and "Traceback" not in last_line


def test_bench_model_times_a_real_avatar_stage_by_stage(real_avatar, real_capture, tmp_path, capsys):
    """`avatar bench --model`: its own held-out frames drive it (its capture is on this machine),
    every stage is timed at every size, and the stages make up the frame."""
    out = tmp_path / "model.json"
    assert main(["bench", "--model", str(real_avatar), "--sizes", "64,96", "--frames", "4", "--backends", "cpu,torch",
                 "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["driven_by"].startswith("4 held-out frames of") and str(real_capture) in doc["driven_by"]
    rows = doc["rows"]
    assert [(r["size"], r["backend"]) for r in rows] == [(64, "cpu"), (64, "torch"), (96, "cpu"), (96, "torch")]
    for r in rows:
        stages = [r[s]["median"] for s in ("pose_ms", "blend_ms", "splat_ms", "cut_ms")]
        assert all(v >= 0 for v in stages) and r["total_ms"]["median"] > 0 and r["frames"] == 4
        assert sum(stages) == pytest.approx(r["total_ms"]["median"], rel=0.5)
        assert r["ran"]["splat"] == r["backend"] and r["fps"] > 0
    table = capsys.readouterr().out
    assert "pose" in table and "cut" in table and "torch" in table


def test_bench_model_refuses_bad_sizes(real_avatar, capsys):
    assert main(["bench", "--model", str(real_avatar), "--sizes", "64,x"]) == 2
    assert "--sizes with --model" in capsys.readouterr().err
