"""The CPU inference path: cuda_ext's avatar_project op (blend fused with the splat's projection,
8-bit offsets) against the blend op followed by the splat's projection, and the renderer that
uses it against the torch reference render."""

import pytest
import torch

from avatar.bench.backends import BenchSize, bench_scene
from avatar.gaussians import blend
from avatar.splat import splat
from avatar.splat.sh import SH_C0
from avatar.splat.ext_backend import camera_params
from avatar.renderer import AvatarRenderer
from avatar.renderer.grouped import GroupedGaussians
from avatar.training.image_metrics import psnr
from cuda_ext.avatar_project import avatar_project


pytestmark = pytest.mark.usefixtures("cpu_extension")


@pytest.fixture(scope="module")
def scene():
    """2,003 Gaussians (the last group of 8 padded), degree-2 colours, 6 expressions with offsets."""
    model, params, camera = bench_scene(BenchSize(96, 80, 2003, 6), seed=3)
    model.sh_rest.data = 0.2 * torch.randn(model.num_gaussians, 8, 3, generator=torch.Generator().manual_seed(1))
    model.sh_degree = 2
    return model, params, camera


def _arguments(model, params, camera) -> list:
    """avatar_project's arguments for the model posed at params, seen by camera."""
    grouped = GroupedGaussians.of(model)
    verts = model.rig.forward(params)[0]
    return [
        verts,
        model.rig.faces,
        grouped.parent,
        model.drivers(params)[0].contiguous(),
        grouped.base,
        grouped.offsets,
        grouped.offset_scales,
        grouped.sh_rest,
        grouped.num_gaussians,
        camera_params(camera, torch.float32),
    ]


def _project(model, params, camera):
    return avatar_project(*_arguments(model, params, camera))


@pytest.mark.parametrize("simd", ["auto", "avx2", "sse2"])
def test_the_fused_op_is_the_blend_then_the_projection(scene, simd, monkeypatch):
    monkeypatch.setenv("AVATAR_EXT_SIMD", simd)  # avx2: no AVX-512 sums; sse2: one Gaussian at a time
    model, params, camera = scene
    with torch.no_grad():
        means2d, conics, depths, colours, opacities, radii = _project(model, params, camera)
        world = blend(model, params, "cpu")
        cam = camera_params(camera, torch.float32)
        want = torch.ops.avatar_ext.splat_project_forward(
            world.means,
            world.quats,
            world.scales,
            world.opacities,
            world.sh,
            cam.world_to_cam,
            cam.K,
            cam.position,
            camera.width,
            camera.height,
            cam.near,
            cam.far,
        )
    visible = want[4] > 0
    assert visible.sum() > 1000 and means2d.shape == (model.num_gaussians, 2)
    # 8-bit offsets: sub-pixel positions, colours within a grey level, the same Gaussians drawn.
    torch.testing.assert_close(means2d[visible], want[0][visible], rtol=0, atol=2e-2)
    torch.testing.assert_close(depths, want[2], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(colours[visible], want[3][visible], rtol=0, atol=2e-3)
    torch.testing.assert_close(opacities, world.opacities, rtol=0, atol=1e-3)
    torch.testing.assert_close(conics[visible], want[1][visible], rtol=2e-2, atol=1e-3)
    assert float(((radii > 0) != visible).float().mean()) < 0.002
    assert float((radii - want[4]).abs().max()) <= 1


def test_the_8_bit_offsets_are_the_offsets_within_half_a_step(scene):
    model, _, _ = scene
    grouped = GroupedGaussians.of(model)
    exact = torch.cat(
        [model.d_xyz, model.d_rot, model.d_log_scale, model.d_opacity[..., None], model.d_color / SH_C0], -1
    ).detach()  # [D, N, 14]
    restored = grouped.offsets.float() * grouped.offset_scales[:, None, :, None]  # [D, G, 14, 8]
    restored = restored.transpose(-1, -2).reshape(len(exact), -1, 14)[:, : model.num_gaussians]  # [D, N, 14]
    step = grouped.offset_scales[:, None, :]  # [D, 1, 14]
    assert grouped.offsets.dtype == torch.int8
    assert bool(((restored - exact).abs() <= step / 2 + 1e-7).all())
    assert bool((grouped.offsets.abs().amax(dim=(1, 3)) == 127).all())  # each scale spans its largest offset


def test_the_inference_render_is_the_reference_render(scene):
    model, params, camera = scene
    fast, reference = AvatarRenderer(model, backend="cpu"), AvatarRenderer(model, backend="torch")
    with torch.no_grad():
        image, times = fast.render_timed(params, camera)
        want = reference.render(params, camera)
    assert fast._inference_path() and not reference._inference_path()
    assert psnr(image.rgb, want.rgb) > 50 and psnr(image.alpha, want.alpha) > 50
    assert min(times.pose_ms, times.blend_ms, times.splat_ms, times.cut_ms) >= 0 and times.total_ms > 0


def test_the_grouped_copy_follows_the_model(scene):
    """Training changes the model in place: the next inference render must show the change."""
    model, params, camera = scene
    renderer = AvatarRenderer(model, backend="cpu")
    with torch.no_grad():
        before = renderer.render(params, camera).rgb
        saved = model.sh_dc.clone()
        model.sh_dc.add_(0.5)
        try:
            after = renderer.render(params, camera).rgb
            direct = splat(blend(model, params, "torch"), camera, torch.ones(3), "torch").rgb
        finally:
            model.sh_dc.copy_(saved)
    assert (after - before).abs().max() > 0.05 and psnr(after, direct) > 50


def test_bad_inputs_are_refused(scene):
    model, params, camera = scene
    grouped = GroupedGaussians.of(model)
    args = _arguments(model, params, camera)
    for index, bad, message in (
        (5, grouped.offsets.float(), "offsets has dtype"),
        (6, grouped.offset_scales[:, :3], "offset_scales has shape"),
        (2, grouped.parent.long(), "parent has dtype"),
        (8, grouped.num_gaussians + 8, "parent has shape"),
        (2, grouped.parent.clone().fill_(10**6), "parent indices"),
    ):
        changed = list(args)
        changed[index] = bad
        with pytest.raises(ValueError, match=message):
            avatar_project(*changed)


def test_the_grouped_gaussians_are_built_once_per_model_state_and_shared():
    """`grouped_for`: every renderer of a model reads one build (the viewer builds its levels of
    detail's on another thread, so its render thread does not stall), rebuilt when the model's
    tensors change; the offsets quantized expression by expression as a whole-tensor pass would."""
    from avatar.renderer.grouped import grouped_for

    model, params, camera = bench_scene(BenchSize(64, 64, 203, 4), seed=5)
    first = grouped_for(model)
    assert grouped_for(model) is first
    AvatarRenderer(model, backend="cpu").render(params.frame(0), camera)
    assert grouped_for(model) is first  # the renderer used it, built nothing of its own
    offsets = torch.cat(
        [model.d_xyz, model.d_rot, model.d_log_scale, model.d_opacity[..., None], model.d_color / SH_C0], -1
    )  # [D, N, 14]
    padded = torch.nn.functional.pad(offsets, (0, 0, 0, first.offsets.shape[1] * 8 - model.num_gaussians))
    grouped = padded.reshape(offsets.shape[0], -1, 8, 14).transpose(-1, -2)  # [D, G, 14, 8]
    scales = grouped.abs().amax(dim=(1, 3)) / 127  # [D, 14]
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    assert torch.equal(first.offset_scales, scales)
    assert torch.equal(first.offsets, torch.round(grouped / scales[:, None, :, None]).clamp(-127, 127).to(torch.int8))
    with torch.no_grad():
        model.d_xyz.mul_(2.0)  # in place: the model's state changed
    rebuilt = grouped_for(model)
    assert rebuilt is not first and torch.equal(rebuilt.offset_scales[:, :3], 2 * first.offset_scales[:, :3])
