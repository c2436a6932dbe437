"""One device per run: `--device`, backends that follow the data, the CUDA self-check.

The device-generic code runs here on the CPU; the tests marked `cuda` run the same paths on a
GPU (a whole training step, render, the self-check catching a corrupted kernel) and skip with a
reason elsewhere.
"""

import logging

import pytest
import torch

from avatar.runtime.backends import BackendDeviceError, BackendRegistry, BackendUnavailable
from avatar.cli.main import main
from avatar.runtime.devices import DeviceUnavailable, resolve_device
from avatar.gaussians.blend import blend_backend
from avatar.gaussians.reference import blend_reference
from avatar.gaussians.ext_blend import blend_cpu
from avatar.splat.dispatch import splat_registry
from avatar.splat.ext_backend import splat_cpu
from avatar.splat.reference import splat_reference
from avatar.gaussians.blend_check import compare_blends
from avatar.splat.splat_check import compare_splats
from avatar.training.densify import Densifier

needs_cuda = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]
CPU = torch.device("cpu")


def test_resolve_device():
    assert resolve_device("cpu") == CPU
    assert resolve_device(None) == resolve_device("auto")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "cpu:1", "cuda:x"):
        with pytest.raises(DeviceUnavailable, match="is not one of"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable, match="CPU-only build|no CUDA device"):
            resolve_device("cuda")
    else:
        with pytest.raises(DeviceUnavailable, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_auto_follows_the_device_and_a_wrong_device_is_an_error():
    assert splat_registry.get("auto", CPU)[0] == "cpu"
    assert blend_backend("auto", _on(CPU))[0] == "cpu"
    cuda = torch.device("cuda")  # only a name here: no tensor is made
    for name in ("cuda", "gsplat"):
        with pytest.raises(BackendDeviceError, match=f"'{name}' splat backend computes on cuda tensors"):
            splat_registry.get(name, CPU)
    with pytest.raises(BackendDeviceError, match="'cpu' splat backend computes on cpu tensors.*device is cuda"):
        splat_registry.get("cpu", cuda)
    with pytest.raises(BackendDeviceError, match=r"'gsplat' backend \(our blend"):
        blend_backend("gsplat", _on(CPU))  # gsplat runs blend with our CUDA kernel


def test_a_distrusted_backend_falls_back_to_torch_once(caplog):
    calls = []
    registry = BackendRegistry("op")
    registry.register("torch", lambda: "reference")
    registry.register("fast", lambda: "kernel", devices=("cpu",), trust=lambda: calls.append(1) or "rgb differs")
    with caplog.at_level(logging.WARNING, logger="avatar"):
        assert registry.get("fast", CPU) == ("torch", "reference")
        assert registry.get("fast", CPU) == ("torch", "reference")
    assert len(calls) == 1 and caplog.text.count("failed its self-check (rgb differs)") == 1
    trusted = BackendRegistry("op")
    trusted.register("fast", lambda: "kernel", devices=("cpu",), trust=lambda: None)
    assert trusted.get("fast", CPU) == ("fast", "kernel")


def test_unknown_or_unloadable_backends_say_why():
    registry = BackendRegistry("op")

    def broken():
        raise BackendUnavailable("not built")

    registry.register("fast", broken, devices=("cpu",))
    registry.register("torch", lambda: "reference")
    with pytest.raises(BackendUnavailable, match="unknown op backend 'nope'"):
        registry.get("nope", CPU)
    assert registry.get("auto", CPU) == ("torch", "reference")
    assert registry.available(CPU) == {"fast": "not built", "torch": "ok"}


def test_self_checks_pass_agreeing_kernels_and_name_a_corrupted_result():
    """The comparisons the CUDA self-checks run, here between the CPU kernels and the torch
    references: they agree; a kernel whose forward or whose gradient is off is named."""
    assert compare_blends((blend_cpu, CPU), (blend_reference, CPU)) == []
    assert compare_splats((splat_cpu, CPU), (splat_reference, CPU)) == []

    def brighter_splat(g, camera, background):
        out = splat_cpu(g, camera, background)
        out.rgb = out.rgb + 0.01
        return out

    problems = compare_splats((brighter_splat, CPU), (splat_reference, CPU))
    assert any(p.startswith("splat forward rgb") for p in problems)
    assert not any(p.startswith("splat forward alpha") or "gradient" in p for p in problems)

    def wrong_gradient_blend(model, params):
        world = blend_cpu(model, params)
        world.means = world.means.detach() + 1.5 * (world.means - world.means.detach())  # same values
        return world

    problems = compare_blends((wrong_gradient_blend, CPU), (blend_reference, CPU))
    assert "blend gradient xyz" in " ".join(problems) and "blend forward" not in " ".join(problems)


def test_self_checks_run_inside_no_grad_and_inference_mode():
    """The first use of the CUDA backends in a process may come from `avatar eval` or the viewer,
    inside inference_mode / no_grad: the checks still take their gradients."""
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            assert compare_blends((blend_cpu, CPU), (blend_reference, CPU)) == []
            assert compare_splats((splat_cpu, CPU), (splat_reference, CPU)) == []


def test_densifier_statistics_stay_on_the_device_and_accept_one_camera_batches():
    model = _on(CPU)
    densifier = Densifier(model, 2e-4, 0.5, 0.005, 1000)
    n = model.num_gaussians
    grad = torch.randn(n, 2)
    radii = (torch.arange(n) % 3).to(torch.int32)  # every third Gaussian culled
    densifier.accumulate(grad, radii, 64, 32)
    densifier.accumulate(grad[None], radii[None], 64, 32)  # gsplat's [1, N, 2]
    expected = (grad * torch.tensor([32.0, 16.0])).norm(dim=-1) * (radii > 0)
    torch.testing.assert_close(densifier.grad_sum, 2 * expected)
    torch.testing.assert_close(densifier.count, 2.0 * (radii > 0))


def test_cli_refuses_a_missing_device_and_a_backend_for_another_device(tmp_path, capsys):
    if not torch.cuda.is_available():
        assert main(["demo", "--out", str(tmp_path / "d"), "--device", "cuda", "--iterations", "1"]) == 2
        err = capsys.readouterr().err
        assert "no CUDA device" in err or "CPU-only build" in err
    assert main(["demo", "--out", str(tmp_path / "e"), "--device", "cpu", "--backend", "cuda", "--size", "16",
                 "--train-frames", "2", "--test-frames", "1", "--iterations", "1"]) == 2
    assert "computes on cuda tensors" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()  # refused before any output


def test_training_reports_the_device_and_what_ran(tmp_path):
    from avatar.data.synthetic import make_synthetic_capture
    from avatar.gaussians.io import load_avatar
    from avatar.rig.builtin import build_builtin_head
    from avatar.training.config import load_config
    from avatar.training.trainer import train

    rig = build_builtin_head()
    capture = make_synthetic_capture(rig, tmp_path / "cap", num_train=3, num_test=1, size=24)
    cfg = load_config("fast", iterations=3, eval_every=0, checkpoint_every=0)
    train(capture, rig, cfg, tmp_path / "m.avatar", progress=False, device="cpu")
    _, config = load_avatar(tmp_path / "m.avatar")
    assert config["device"] == "cpu" and config["backends_ran"] == {"blend": "cpu", "splat": "cpu"}


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_cuda)])
def test_cuda_training_step_render_and_eval_stay_on_the_gpu(tmp_path, _):
    from avatar.data.synthetic import make_synthetic_capture
    from avatar.rig.builtin import build_builtin_head

    rig = build_builtin_head()
    make_synthetic_capture(rig, tmp_path / "cap", num_train=4, num_test=2, size=32)
    model = tmp_path / "m.avatar"
    assert main(["train", str(tmp_path / "cap"), "--out", str(model), "--device", "cuda", "--preset", "fast",
                 "--iterations", "20"]) == 0
    from avatar.gaussians.io import load_avatar

    _, config = load_avatar(model)
    assert config["device"].startswith("cuda") and config["backends_ran"] == {"blend": "cuda", "splat": "cuda"}
    assert main(["render", str(model), "--expr", str(tmp_path / "cap"), "--out", str(tmp_path / "r.mp4"),
                 "--device", "cuda", "--size", "32"]) == 0
    assert main(["eval", str(model), str(tmp_path / "cap"), "--device", "cuda", "--json", str(tmp_path / "e.json")]) == 0


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_cuda)])
def test_cuda_self_checks_pass_and_catch_a_corrupted_cuda_kernel(_):
    from avatar.gaussians.blend_check import cuda_blend_trusted
    from avatar.splat.ext_backend import splat_cuda
    from avatar.splat.splat_check import cuda_splat_trusted

    assert cuda_blend_trusted() is None and cuda_splat_trusted() is None
    cuda = torch.device("cuda")

    def corrupted(g, camera, background):
        out = splat_cuda(g, camera, background)
        out.alpha = out.alpha * 0.9
        return out

    problems = compare_splats((corrupted, cuda), (splat_reference, CPU))
    assert any(p.startswith("splat forward alpha") for p in problems)


def _on(device: torch.device):
    from avatar.bench.backends import BenchSize, bench_scene

    model, _, _ = bench_scene(BenchSize(32, 32, 200, 3))
    return model.to(device)
