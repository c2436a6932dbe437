"""cuda_ext's splat op (cpu build; cuda when a GPU is present) against the torch reference.

Oracle: avatar.splat.reference.splat_reference differentiated by autograd (itself checked
against a naive per-pixel loop and gradcheck in test_render_reference.py). Both renderers get the
same scenes and the same random upstream gradients on rgb, alpha and depth; compared are rgb,
alpha, depth, means2d, radii and the gradients w.r.t. means, quats, scales, opacities, sh, the
background and means2d (the screen-space gradient read through `means2d.retain_grad()`).
float64: everything to ~1e-9, threshold decisions (alpha >= 1/255, the 0.99 cap, the T < 1e-4
stop) included. float32: ~1e-5 relative, except on the few pixels where rounding flips one of
those decisions: they are counted and must stay a tiny fraction.
"""

from __future__ import annotations

import math

import pytest
import torch

from avatar.splat.world import Gaussians
from avatar.splat.camera import Camera
from avatar.splat import reference
from avatar.splat.reference import splat_reference

cuda_ext = pytest.importorskip("cuda_ext", reason="the cuda_ext package is not importable")

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]
    ),
]
FIELDS = ("means", "quats", "scales", "opacities", "sh")


@pytest.fixture(params=["auto", "avx2", "sse2"])
def cpu_simd(request, monkeypatch) -> str:
    """The float32 CPU tile loops: the best the CPU has (AVX-512's 16 lanes for the forward where it
    has them), AVX2 + FMA (8 lanes) and the portable 4 lanes."""
    monkeypatch.setenv("AVATAR_EXT_SIMD", request.param)
    return request.param


pytestmark = pytest.mark.usefixtures("cpu_extension")


def render(backend: str, device: str):
    """The splat backend `backend` for tensors on `device` (the registry refuses a backend named for
    another device)."""
    from avatar.splat.dispatch import splat_registry

    return splat_registry.get(backend, device)[1]


def camera(width: int, height: int) -> Camera:
    """Off-centre principal point and non-square pixels: the Jacobian clamp is asymmetric."""
    cam = Camera.look_at((0.3, 0.2, 2.0), (0.0, 0.0, 0.0), width, height, fov_y_deg=40.0)
    k = cam.K.clone()
    k[0, 2] += 0.1 * width
    k[1, 1] *= 1.1
    return Camera(k, cam.world_to_cam, width, height, near=0.01, far=3.0)


def random_scene(n: int, seed: int, degree: int = 3) -> Gaussians:
    """Ordinary Gaussians around the origin plus, from n >= 12 on, one of each edge case."""
    gen = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=gen) - 0.5) * 0.8
    scales = torch.exp(torch.empty(n, 3).uniform_(-4.5, -2.0, generator=gen))
    opacities = torch.rand(n, generator=gen) * 0.9 + 0.05
    if n >= 12:
        means[0] = torch.tensor([0.1, 0.0, 2.5])  # behind the camera
        means[1] = torch.tensor([0.0, 0.0, -3.0])  # beyond the far plane
        means[2] = torch.tensor([2.5, 0.0, 0.0])  # far off-screen: the Jacobian clamp
        opacities[3] = 0.0
        opacities[4] = 0.003  # below 1/255: culled
        scales[5] = torch.tensor([0.6, 0.3, 0.5])  # covers the whole image, alpha capped at 0.99
        opacities[5] = 1.0
        scales[6] = torch.tensor([1e-4, 2e-4, 1e-4])  # sub-pixel: the low-pass dominates
        means[7:12] = torch.tensor([0.05, -0.02, 0.1]) + torch.randn(5, 3, generator=gen) * 0.01
        scales[7:12] = 0.15  # stacked and nearly opaque: pixels stop early
        opacities[7:12] = torch.tensor([0.97, 0.9, 0.98, 0.95, 0.99])
    return Gaussians(
        means,
        torch.randn(n, 4, generator=gen),
        scales,
        opacities,
        torch.randn(n, (degree + 1) ** 2, 3, generator=gen) * 0.4,
    )


def crowded_tile_scene(n: int = 2500) -> tuple[Gaussians, Camera]:
    """n faint Gaussians inside one tile (CUDA's 16 x 16; the CPU's 32 x 32 is the whole image):
    far more than one CUDA shared-memory round (256) and than any fixed per-tile buffer; the
    central pixels stop early only after more than 700 contributions (alpha <= 0.012 each), i.e.
    rounds later."""
    cam = Camera(torch.tensor([[40.0, 0.0, 16.0], [0.0, 40.0, 16.0], [0.0, 0.0, 1.0]]), torch.eye(4), 32, 32)
    gen = torch.Generator().manual_seed(11)
    xy = (torch.rand(n, 2, generator=gen) - 0.5) * 0.2  # pixel centre +- 2 px around (16, 16)
    means = torch.cat([xy - 0.2, 1.0 + torch.rand(n, 1, generator=gen)], 1)  # shifted into tile (0, 0)
    means[:, :2] = means[:, :2] * means[:, 2:]  # keep the image position at any depth
    scales = torch.full((n, 3), 0.15) * torch.exp(torch.randn(n, 3, generator=gen) * 0.2)
    opacities = torch.full((n,), 0.012)
    return Gaussians(
        means, torch.randn(n, 4, generator=gen), scales, opacities, torch.randn(n, 4, 3, generator=gen) * 0.3
    ), cam


def render_with_grads(backend: str, scene: Gaussians, cam: Camera, background, device: str, dtype, seed: int = 7):
    """Outputs and gradients of sum(rgb * g_rgb) + sum(alpha * g_alpha) + sum(depth * g_depth)."""
    leaves = [getattr(scene, f).detach().to(device=device, dtype=dtype).requires_grad_(True) for f in FIELDS]
    bg = None if background is None else background.detach().to(device=device, dtype=dtype).requires_grad_(True)
    out = render(backend, device)(Gaussians(*leaves), cam, bg)
    out.means2d.retain_grad()
    gen = torch.Generator().manual_seed(seed)
    upstream = [
        torch.randn(t.shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)
        for t in (out.rgb, out.alpha, out.depth)
    ]
    loss = sum((t * u).sum() for t, u in zip((out.rgb, out.alpha, out.depth), upstream))
    loss.backward()
    grads = {f: leaf.grad for f, leaf in zip(FIELDS, leaves)}
    grads["means2d"] = out.means2d.grad
    if bg is not None:
        grads["background"] = bg.grad
    return out, grads


def max_relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got - want| relative to the largest |want| (1 when that is 0)."""
    assert got.shape == want.shape, f"shape {tuple(got.shape)} != {tuple(want.shape)}"
    if want.numel() == 0:
        return 0.0
    scale = max(want.abs().max().item(), 1.0)
    return (got.double() - want.double()).abs().max().item() / scale


def assert_matches_float64(scene: Gaussians, cam: Camera, background, device: str = "cpu", tol: float = 1e-9):
    ref, ref_grads = render_with_grads("torch", scene, cam, background, "cpu", torch.float64)
    out, grads = render_with_grads(device, scene, cam, background, device, torch.float64)
    assert out.rgb.shape == (cam.height, cam.width, 3) and out.alpha.shape == out.depth.shape == (
        cam.height,
        cam.width,
        1,
    )
    for name in ("rgb", "alpha", "depth", "means2d"):
        err = max_relative_error(getattr(out, name).cpu(), getattr(ref, name))
        assert err <= tol, f"{name}: relative error {err:.3g}"
    assert out.radii.dtype == torch.int32 and torch.equal(out.radii.cpu(), ref.radii)
    for name, want in ref_grads.items():
        got = grads[name]
        assert got is not None, f"no gradient for {name}"
        err = max_relative_error(got.cpu(), want)
        assert err <= tol, f"grad {name}: relative error {err:.3g}"
    culled = ref.radii == 0
    for name in ("means", "quats", "scales", "opacities", "sh", "means2d"):
        assert torch.count_nonzero(grads[name][culled.to(grads[name].device)]) == 0, f"culled {name} got gradient"
    return ref, ref_grads


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "n, width, height, seed",
    [(1, 17, 13, 0), (7, 17, 13, 1), (60, 1, 1, 2), (60, 17, 13, 3), (500, 64, 48, 4), (3000, 100, 100, 5)],
)
def test_float64_matches_reference(n, width, height, seed, device, monkeypatch):
    scene, cam = random_scene(n, seed), camera(width, height)
    background = torch.tensor([0.2, 0.5, 0.9]) if seed % 2 else None
    ref, ref_grads = assert_matches_float64(scene, cam, background, device)
    assert ref_grads["means"].abs().max() > 0
    if (n, width) == (60, 17):  # guard the premise: the edge cases are culled, some pixels stop early
        assert (ref.radii == 0).sum() >= 4
        monkeypatch.setattr(reference, "TRANSMITTANCE_MIN", 1e-300)  # no early stop
        assert (splat_reference(scene.to(dtype=torch.float64), cam, background).rgb - ref.rgb).abs().max() > 1e-7


@pytest.mark.parametrize("device", DEVICES)
def test_float64_one_tile_with_thousands_of_gaussians(device, monkeypatch):
    scene, cam = crowded_tile_scene()
    proj_x = scene.means[:, 0] / scene.means[:, 2] * 40 + 16
    proj_y = scene.means[:, 1] / scene.means[:, 2] * 40 + 16
    assert ((proj_x > 0) & (proj_x < 16) & (proj_y > 0) & (proj_y < 16)).all()  # all centred in tile (0, 0)
    background = torch.tensor([0.3, 0.3, 0.3])
    ref, _ = assert_matches_float64(scene, cam, background, device)
    assert (ref.radii > 0).sum() > 2000 and ref.alpha[6:10, 6:10].min() > 0.99
    monkeypatch.setattr(reference, "TRANSMITTANCE_MIN", 1e-300)  # the premise: some pixels did stop early
    assert (splat_reference(scene.to(dtype=torch.float64), cam, background).rgb - ref.rgb).abs().max() > 1e-7


def equal_depth_scene(all_equal: bool) -> tuple[Gaussians, Camera]:
    """30 overlapping, half-opaque Gaussians at exactly equal depths (all of them, or in pairs),
    reaching three of the four CPU tiles of a 40 x 36 image: the compositing order of ties decides
    the image."""
    cam = Camera(torch.tensor([[40.0, 0.0, 20.0], [0.0, 40.0, 18.0], [0.0, 0.0, 1.0]]), torch.eye(4), 40, 36)
    gen = torch.Generator().manual_seed(13)
    n = 30
    z = torch.full((n,), 1.5) if all_equal else torch.arange(n).div(2, rounding_mode="floor") * 0.05 + 1.0
    xy = (torch.rand(n, 2, generator=gen) - 0.5) * 0.5
    means = torch.cat([xy * z[:, None], z[:, None]], 1)  # image positions within ~10 px of the centre
    scales = torch.full((n, 3), 0.08) * torch.exp(torch.randn(n, 3, generator=gen) * 0.2)
    opacities = torch.rand(n, generator=gen) * 0.3 + 0.5
    return Gaussians(
        means, torch.randn(n, 4, generator=gen), scales, opacities, torch.randn(n, 1, 3, generator=gen)
    ), cam


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("all_equal", [True, False])
def test_equal_depths_composite_in_index_order(all_equal, device):
    scene, cam = equal_depth_scene(all_equal)
    background = torch.tensor([0.1, 0.1, 0.1])
    ref, _ = assert_matches_float64(scene, cam, background, device)
    # The premise: the same Gaussians in reverse index order (ties reversed) give another image.
    reversed_scene = Gaussians(*(getattr(scene, f).flip(0) for f in FIELDS))
    assert (splat_reference(reversed_scene.to(dtype=torch.float64), cam, background).rgb - ref.rgb).abs().max() > 1e-2


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("degree", [0, 1, 2])
def test_float64_lower_sh_degrees(degree, device):
    assert_matches_float64(random_scene(40, 9, degree=degree), camera(24, 20), torch.tensor([0.1, 0.2, 0.3]), device)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_close_to_reference_except_counted_threshold_flips(device, cpu_simd):
    scene, cam = random_scene(3000, 5), camera(100, 100)
    background = torch.tensor([0.2, 0.5, 0.9])
    ref, ref_grads = render_with_grads("torch", scene, cam, background, "cpu", torch.float32)
    out, grads = render_with_grads(device, scene, cam, background, device, torch.float32)
    assert out.rgb.dtype == torch.float32
    assert torch.equal(out.radii.cpu(), ref.radii)
    assert max_relative_error(out.means2d.cpu(), ref.means2d) <= 1e-6
    # A flip pixel differs by far more than rounding: a Gaussian counted on one side only.
    diff = torch.cat([(getattr(out, k).cpu() - getattr(ref, k)).abs() for k in ("rgb", "alpha", "depth")], -1)
    flips = diff.amax(-1) > 1e-4  # [H, W]
    assert flips.float().mean() <= 0.002, f"{int(flips.sum())} of {flips.numel()} pixels flipped"
    assert diff[~flips].max() <= 1e-5
    for name, want in ref_grads.items():
        got = grads[name].cpu()
        err = (got - want).abs() / max(want.abs().max().item(), 1.0)  # relative to the largest entry
        assert (err > 1e-5).float().mean() <= 0.002, f"grad {name}: {int((err > 1e-5).sum())} entries off"
        assert err.max() <= 1e-3, f"grad {name}: relative error {err.max():.3g}"


@pytest.mark.parametrize("device", DEVICES)
def test_means2d_upstream_gradient_reaches_the_3d_means(device):
    """A loss on means2d itself (e.g. a regulariser) flows through the projection's backward."""
    scene, cam = random_scene(30, 12).to(dtype=torch.float64), camera(24, 20)
    grads = {}
    for backend, dev in (("torch", "cpu"), (device, device)):
        means = scene.means.to(dev).clone().requires_grad_(True)
        out = render(backend, dev)(Gaussians(means, *(getattr(scene, f).to(dev) for f in FIELDS[1:])), cam, None)
        weights = torch.linspace(-1.0, 1.0, out.means2d.numel(), dtype=torch.float64).reshape(out.means2d.shape)
        ((out.means2d * weights.to(dev)).sum() + out.rgb.sum()).backward()
        grads[backend] = means.grad.cpu()
    assert max_relative_error(grads[device], grads["torch"]) <= 1e-9


@pytest.mark.parametrize("device", DEVICES)
def test_no_gaussians_renders_the_background(device, cpu_simd):
    empty = Gaussians(torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0, 3), torch.zeros(0), torch.zeros(0, 1, 3))
    out, grads = render_with_grads(device, empty, camera(17, 13), torch.tensor([0.1, 0.2, 0.3]), device, torch.float32)
    assert torch.equal(out.rgb.cpu(), torch.tensor([0.1, 0.2, 0.3]).expand(13, 17, 3))  # T = 1: bg exactly
    assert out.alpha.abs().max() == 0 and out.depth.abs().max() == 0
    assert out.means2d.shape == (0, 2) and out.radii.shape == (0,)
    assert grads["means"].shape == (0, 3) and grads["background"].shape == (3,)


def test_gradcheck_float64():
    """The Functions' own backward against finite differences, away from every threshold
    (3 Gaussians covering all 8 x 8 pixels with 10/255 < alpha < 0.9, colours above the clamp)."""
    from cuda_ext.splat import CameraParams, splat

    cam = CameraParams(
        world_to_cam=torch.eye(4, dtype=torch.float64),
        K=torch.tensor([[10.0, 0.0, 4.0], [0.0, 10.0, 4.0], [0.0, 0.0, 1.0]], dtype=torch.float64),
        position=torch.zeros(3, dtype=torch.float64),
        width=8,
        height=8,
        near=0.01,
        far=100.0,
    )
    means = torch.tensor([[0.02, -0.03, 2.0], [-0.1, 0.05, 2.2], [0.08, 0.1, 2.5]], dtype=torch.float64)
    quats = torch.tensor([[1.0, 0.2, -0.1, 0.3], [0.8, -0.3, 0.4, 0.1], [0.5, 0.5, -0.2, 0.6]], dtype=torch.float64)
    scales = torch.tensor([[0.9, 0.6, 0.7], [0.8, 1.0, 0.4], [1.1, 0.9, 0.8]], dtype=torch.float64)
    opacities = torch.tensor([0.45, 0.6, 0.7], dtype=torch.float64)
    sh = torch.randn(3, 16, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.05
    background = torch.tensor([0.3, 0.1, 0.6], dtype=torch.float64)
    inputs = tuple(t.clone().requires_grad_(True) for t in (means, quats, scales, opacities, sh, background))

    def fn(*args):
        out = splat(*args[:5], cam, args[5])
        return out.rgb, out.alpha, out.depth, out.means2d

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_result_does_not_depend_on_the_thread_count(cpu_simd):
    """The CPU backward sums per-(tile, Gaussian) records in a fixed order: bitwise reproducible."""
    scene, cam = random_scene(500, 4), camera(64, 48)
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)  # also sets OpenMP's thread count for the kernels
            results.append(render_with_grads("cpu", scene, cam, None, "cpu", torch.float32))
    finally:
        torch.set_num_threads(threads)
    (out1, grads1), (out2, grads2) = results
    assert torch.equal(out1.rgb, out2.rgb) and torch.equal(out1.depth, out2.depth)
    assert all(torch.equal(grads1[k], grads2[k]) for k in grads1)


def test_simd_switch_picks_the_tile_loops(monkeypatch):
    """AVATAR_EXT_SIMD=sse2 forces the portable loops, =avx2 leaves AVX-512 out (so the fixture above
    tests all three); a typo is an error."""
    monkeypatch.setenv("AVATAR_EXT_SIMD", "sse2")
    assert torch.ops.avatar_ext.cpu_simd() == "sse2"
    monkeypatch.setenv("AVATAR_EXT_SIMD", "auto")
    best = torch.ops.avatar_ext.cpu_simd()
    assert best in ("avx512", "avx2", "sse2")
    monkeypatch.setenv("AVATAR_EXT_SIMD", "avx2")
    assert torch.ops.avatar_ext.cpu_simd() == ("sse2" if best == "sse2" else "avx2")
    monkeypatch.setenv("AVATAR_EXT_SIMD", "avx-512")
    with pytest.raises(ValueError, match="AVATAR_EXT_SIMD"):
        torch.ops.avatar_ext.cpu_simd()


@pytest.mark.parametrize("simd", ["auto", "avx2"])
def test_simd_paths_agree_on_a_large_scene(monkeypatch, simd):
    """Each wide tile loop against the portable one on many overlapping Gaussians (many blocks and
    chunks per row, early stops, a ragged image edge): the same image and gradients up to float32
    rounding (FMA contractions)."""
    scene, cam = random_scene(6000, 21), camera(162, 123)
    results = {}
    for name in (simd, "sse2"):
        monkeypatch.setenv("AVATAR_EXT_SIMD", name)
        results[name] = render_with_grads("cpu", scene, cam, torch.tensor([0.2, 0.5, 0.9]), "cpu", torch.float32)
    (out_a, grads_a), (out_b, grads_b) = results[simd], results["sse2"]
    diff = (out_a.rgb - out_b.rgb).abs()
    assert (diff > 1e-4).float().mean() <= 0.002 and diff.median() <= 1e-6
    for name in grads_a:
        err = (grads_a[name] - grads_b[name]).abs() / max(grads_b[name].abs().max().item(), 1.0)
        assert (err > 1e-5).float().mean() <= 0.002, name


def weights_inputs(scene: Gaussians, cam: Camera, dtype: torch.dtype) -> tuple:
    """splat_rasterize_weights' inputs for `scene` seen by `cam`: the projection's outputs (as the
    rasterizer takes them), a background, the image size."""
    from avatar.splat.ext_backend import camera_params

    c, g = camera_params(cam, dtype), scene.to(dtype=dtype)
    means2d, conics, depths, colours, radii = torch.ops.avatar_ext.splat_project_forward(
        g.means, g.quats, g.scales, g.opacities, g.sh, c.world_to_cam, c.K, c.position, *c[3:]
    )
    background = torch.tensor([0.2, 0.5, 0.9], dtype=dtype)
    return means2d, conics, colours, g.opacities, depths, radii, background, cam.width, cam.height


WEIGHT_SCENES = {
    "random, edge cases": lambda: (random_scene(60, 3), camera(17, 13)),
    "random, many tiles": lambda: (random_scene(3000, 5), camera(100, 100)),
    "one crowded tile, early stops": crowded_tile_scene,
    "equal depths": lambda: equal_depth_scene(True),
}


@pytest.mark.parametrize("scene", WEIGHT_SCENES)
def test_weight_sums_match_the_reference_in_float64(scene):
    """Each Gaussian's weight summed over the pixels: the reference's pairs, to rounding, early
    stops and equal depths included."""
    from avatar.splat.reference import weight_sums_reference

    gaussians, cam = WEIGHT_SCENES[scene]()
    want = weight_sums_reference(gaussians.to(dtype=torch.float64), cam)
    got = torch.ops.avatar_ext.splat_rasterize_weights(*weights_inputs(gaussians, cam, torch.float64))
    assert got.shape == want.shape and max_relative_error(got, want) <= 1e-9
    assert (want > 0).sum() >= 4  # the premise: they show


def test_weight_sums_in_float32_close_to_the_reference(cpu_simd):
    from avatar.splat.reference import weight_sums_reference

    gaussians, cam = random_scene(3000, 5), camera(100, 100)
    want = weight_sums_reference(gaussians.to(dtype=torch.float64), cam)
    got = torch.ops.avatar_ext.splat_rasterize_weights(*weights_inputs(gaussians, cam, torch.float32))
    err = (got.double() - want).abs() / max(want.abs().max().item(), 1.0)
    assert (err > 1e-4).float().mean() <= 0.002 and err.median() <= 1e-6


def test_weight_sums_are_the_image_alpha_whatever_the_colours_background_and_threads(cpu_simd):
    """They add up to the rendered alpha; the colours and background change nothing, and the sums
    run in a fixed order: bitwise the same on 1 and 2 threads."""
    gaussians, cam = random_scene(3000, 5), camera(100, 100)
    inputs = weights_inputs(gaussians, cam, torch.float32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = torch.ops.avatar_ext.splat_rasterize_weights(*inputs)
        torch.set_num_threads(2)
        two = torch.ops.avatar_ext.splat_rasterize_weights(*inputs)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    means2d, conics, colours, opacities, depths, radii, background, width, height = inputs
    recoloured = torch.ops.avatar_ext.splat_rasterize_weights(
        means2d, conics, torch.rand_like(colours), opacities, depths, radii, torch.zeros(3), width, height
    )
    assert torch.equal(one, recoloured)
    _, alpha, _, _ = torch.ops.avatar_ext.splat_rasterize_forward(*inputs)
    assert float(one.sum()) == pytest.approx(float(alpha.sum()), rel=1e-5)


def test_backends_registered_and_bad_inputs_rejected():
    from avatar.splat import splat

    scene, cam = random_scene(5, 0), camera(8, 8)
    out = splat(scene, cam, None, backend="cpu")
    assert out.rgb.shape == (8, 8, 3) and out.radii.dtype == torch.int32
    bad = Gaussians(scene.means, scene.quats, scene.scales, scene.opacities[:3], scene.sh)
    with pytest.raises(ValueError, match="opacities"):
        splat(bad, cam, None, backend="cpu")
    with pytest.raises(ValueError, match="coefficients"):
        splat(
            Gaussians(scene.means, scene.quats, scene.scales, scene.opacities, scene.sh[:, :5]),
            cam,
            None,
            backend="cpu",
        )
    with pytest.raises(ValueError, match="background"):
        splat(scene, cam, torch.zeros(4), backend="cpu")
    with pytest.raises(ValueError, match="dtype"):
        splat(
            Gaussians(scene.means, scene.quats.double(), scene.scales, scene.opacities, scene.sh),
            cam,
            None,
            backend="cpu",
        )
    assert math.isfinite(float(out.rgb.sum()))
