"""`avatar export`'s .ply: the INRIA axes (means, orientations and SH colours turned together),
the cut below the head in 3D, and the standard 3DGS layout other tools read."""

import json
import math

import numpy as np
import pytest
import torch
from plyfile import PlyData

from avatar.cli.main import main
from avatar.gaussians import GaussianAvatar, blend
from avatar.gaussians.binding import triangle_frames
from avatar.gaussians.io import save_avatar
from avatar.export.ply import AXES, SH_SIGNS_HALF_TURN_X, half_turn_about_x, to_axes, write_3dgs_ply
from avatar.splat.camera import Camera
from avatar.splat.framing import camera_path
from avatar.splat.projection import quat_to_rotmat
from avatar.splat.reference import splat_reference
from avatar.splat.sh import sh_basis
from avatar.splat.world import Gaussians
from avatar.renderer import AvatarRenderer
from avatar.export.ply_frame import CUT_VIEW_ELEVATION_DEG, export_frame, hidden_below_cut
from avatar.rig import RigParams
from avatar.rig.builtin import build_builtin_head

FLIP = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))  # the half turn about x


def _random_gaussians(n: int = 300, degree: int = 3, seed: int = 0, dtype=torch.float64) -> Gaussians:
    """Anisotropic Gaussians around the origin with strong view-dependent colours (every SH band)."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g) - 0.5) * torch.tensor([0.6, 0.6, 0.3])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.empty(n, 3).uniform_(math.log(0.004), math.log(0.06), generator=g))
    opacities = torch.empty(n).uniform_(0.3, 0.95, generator=g)
    sh = 0.4 * torch.randn(n, (degree + 1) ** 2, 3, generator=g)
    return Gaussians(means, quats, scales, opacities, sh).to(dtype=dtype)


def _turned(camera: Camera) -> Camera:
    """The camera that sees the turned world as `camera` sees the original: world_to_cam . F."""
    f = torch.eye(4, dtype=camera.world_to_cam.dtype)
    f[1, 1] = f[2, 2] = -1.0
    return Camera(camera.K, camera.world_to_cam @ f, camera.width, camera.height, camera.near, camera.far)


def _camera(dtype=torch.float64) -> Camera:
    return Camera.look_at((0.35, 0.25, 1.3), (0.0, 0.0, 0.0), 64, 64, fov_y_deg=35.0).to(dtype=dtype)


def test_the_sh_signs_keep_every_colour_under_the_half_turn():
    """SH'(F d) = SH(d) for every basis function of degrees 0-3: the derivation, checked on the
    basis the renderers evaluate."""
    dirs = torch.nn.functional.normalize(torch.randn(500, 3, dtype=torch.float64), dim=-1)
    signs = torch.tensor(SH_SIGNS_HALF_TURN_X, dtype=torch.float64)
    torch.testing.assert_close(sh_basis(3, dirs @ FLIP.T) * signs, sh_basis(3, dirs), rtol=0, atol=1e-14)
    assert (signs == -1).sum() == 8  # not a table of ones: half the bands flip


def test_the_quaternions_turn_with_the_means():
    g = _random_gaussians()
    turned = half_turn_about_x(g)
    torch.testing.assert_close(quat_to_rotmat(turned.quats), FLIP @ quat_to_rotmat(g.quats), rtol=0, atol=1e-12)
    torch.testing.assert_close(turned.means, g.means @ FLIP.T, rtol=0, atol=0)


def test_turned_gaussians_render_the_same_image_from_the_turned_camera():
    """The export's axes change must change nothing a viewer sees: the reference splatter renders
    the turned Gaussians from the turned camera as the original ones from the original camera, to
    float64 rounding. Turning the means alone, or leaving out the quaternions or the SH signs,
    gives another image (what this test is there to catch)."""
    g, camera = _random_gaussians(), _camera()
    background = torch.tensor([0.2, 0.3, 0.4], dtype=torch.float64)
    want = splat_reference(g, camera, background)
    assert want.alpha.mean() > 0.3  # the Gaussians fill much of the view
    turned = half_turn_about_x(g)
    got = splat_reference(turned, _turned(camera), background)
    for name in ("rgb", "alpha", "depth"):
        torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=0, atol=1e-9)
    wrong = {
        "means only": Gaussians(turned.means, g.quats, g.scales, g.opacities, g.sh),
        "no SH signs": Gaussians(turned.means, turned.quats, g.scales, g.opacities, g.sh),
        "no quaternion turn": Gaussians(turned.means, g.quats, g.scales, g.opacities, turned.sh),
    }
    for name, gaussians in wrong.items():
        error = (splat_reference(gaussians, _turned(camera), background).rgb - want.rgb).abs().max()
        assert error > 0.05, name


def test_the_file_is_a_standard_3dgs_ply_with_its_axes_in_the_header(tmp_path):
    g = _random_gaussians(n=50, degree=3, dtype=torch.float32)
    turned = to_axes(g, "inria")
    write_3dgs_ply(turned, tmp_path / "x.ply", [AXES["inria"]])
    ply = PlyData.read(str(tmp_path / "x.ply"))
    assert [e.name for e in ply.elements] == ["vertex"] and ply["vertex"].count == 50
    v = ply["vertex"]
    rest = [f"f_rest_{i}" for i in range(45)]
    assert [p.name for p in v.properties] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", *rest,
                                              "opacity", "scale_0", "scale_1", "scale_2",
                                              "rot_0", "rot_1", "rot_2", "rot_3"]
    assert all(v[p.name].dtype == np.float32 for p in v.properties)
    assert ply.comments == [AXES["inria"]] and "y down" in ply.comments[0]
    xyz = np.stack([v["x"], v["y"], v["z"]], -1)
    np.testing.assert_array_equal(xyz, (g.means * torch.tensor([1, -1, -1.0])).numpy())
    quats = np.stack([v[f"rot_{i}"] for i in range(4)], -1)
    np.testing.assert_allclose(quats, torch.nn.functional.normalize(turned.quats, dim=-1).numpy(), atol=1e-7)
    # f_rest is channel-major (all red coefficients, then green, then blue), with the signs.
    np.testing.assert_allclose(v["f_rest_0"], -g.sh[:, 1, 0].numpy(), atol=0)  # y: flips
    np.testing.assert_allclose(v["f_rest_17"], g.sh[:, 3, 1].numpy(), atol=0)  # green of x: stays
    np.testing.assert_allclose(np.exp(v["scale_2"]), g.scales[:, 2].numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="axes"):
        to_axes(g, "z-up")
    with pytest.raises(ValueError, match="one line"):
        write_3dgs_ply(turned, tmp_path / "y.ply", ["two\nlines"])


# --- the avatar: the built-in head with the tracker's cut, and junk below its neck -------------

def _bound_at(model: GaussianAvatar, points: torch.Tensor, faces: torch.Tensor) -> GaussianAvatar:
    """The model with Gaussians added at rest-pose points [M, 3] (bound to the rig triangles
    `faces` [M]), small and opaque: what training can leave below a neck."""
    rig = model.rig
    origin, frame, unit = triangle_frames(rig.v_template[None], rig.faces)
    local = torch.einsum("mji,mj->mi", frame[0, faces], points - origin[0, faces]) / unit[0, faces, None]
    tensors = {}
    for name, t in model.attribute_tensors().items():
        dim = 1 if name in model.OFFSETS else 0  # offsets are [D, N, ...]
        extra = torch.zeros(*t.shape[:dim], len(faces), *t.shape[dim + 1:])
        tensors[name] = torch.cat([t.detach(), extra], dim=dim)
    n = model.num_gaussians
    tensors["xyz"][n:] = local
    tensors["rot"][n:, 0] = 1.0
    tensors["log_scale"][n:] = torch.log(0.006 / unit[0, faces])[:, None]
    tensors["opacity_logit"][n:] = 2.0
    tensors["sh_dc"][n:] = 1.5  # bright: it would show
    out = GaussianAvatar(rig, torch.cat([model.parent, faces]), model.sh_degree, model.blend_expr)
    out.replace_gaussians(tensors, torch.cat([model.parent, faces]))
    out.head_cut = model.head_cut
    return out


@pytest.fixture(scope="module")
def cut_avatar():
    """(model, number of junk Gaussians at the end): the built-in head's Gaussians with the cut
    the tracker gives it, and 60 Gaussians 12-20 cm below its neck ring (a collar, shoulders)."""
    from capture.matte.head_mask import place_cut  # the tracker's choice of vertices (capture imports avatar)

    rig = build_builtin_head()
    rest = rig.v_template
    below_mouth = rest[rest[:, 1] < -0.05]
    model = GaussianAvatar.on_mesh(rig, per_face=1, sh_degree=1, vertex_colors=torch.full_like(rest, 0.6))
    model.head_cut = place_cut(rig, below_mouth[below_mouth[:, 2].argmax()], -0.035)
    ring_y = float(rest[list(model.head_cut.ring), 1].min())
    g = torch.Generator().manual_seed(1)
    points = torch.stack([torch.empty(60).uniform_(-0.12, 0.12, generator=g),
                          ring_y - torch.empty(60).uniform_(0.12, 0.2, generator=g),
                          torch.empty(60).uniform_(-0.07, 0.07, generator=g)], -1)
    lowest = rest[rig.faces].mean(1)[:, 1].argsort()[:60]  # the lowest triangles of the neck
    return _bound_at(model, points, lowest), 60


def _without(model: GaussianAvatar, kept: torch.Tensor) -> GaussianAvatar:
    """The model with only the `kept` [N] Gaussians (its cut and offsets alike)."""
    out = GaussianAvatar(model.rig, model.parent[kept], model.sh_degree, model.blend_expr)
    tensors = {k: t[:, kept] if k in model.OFFSETS else t[kept] for k, t in model.attribute_tensors().items()}
    out.replace_gaussians(tensors, model.parent[kept])
    out.head_cut = model.head_cut
    return out


def _nodding(rig) -> RigParams:
    params = RigParams.zeros(rig.num_shape, rig.num_expr)
    params.rotation = torch.tensor([[0.25, -0.3, 0.05]])  # nodding and turned: the cut follows the pose
    params.jaw = torch.tensor([[0.2, 0.0, 0.0]])
    return params


def test_an_avatar_without_a_cut_exports_every_gaussian(cut_avatar):
    model, _ = cut_avatar
    params = RigParams.zeros(model.rig.num_shape, model.rig.num_expr)
    uncut = _without(model, torch.ones(model.num_gaussians, dtype=torch.bool))
    uncut.head_cut = None
    for m, cut in ((uncut, True), (model, False)):
        frame = export_frame(m, params, "torch", cut=cut)
        assert frame.num_cut == 0 and frame.gaussians.num == frame.num_total == model.num_gaussians
    rig_axes = export_frame(uncut, params, "torch", axes="rig")  # the rig's own axes: the blend as it is
    torch.testing.assert_close(rig_axes.gaussians.means, blend(model, params, "torch").means.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("pose", ["neutral", "nodding"])
def test_what_the_export_leaves_out_no_render_of_the_avatar_shows(cut_avatar, cpu_extension, pose):
    """With its cut, the avatar exports fewer Gaussians: all the junk below the neck goes, nothing
    of the head; and the avatar's renders with the cut (front, the arc, the orbit) are the same
    images with the left-out Gaussians removed."""
    model, junk = cut_avatar
    params = RigParams.zeros(model.rig.num_shape, model.rig.num_expr) if pose == "neutral" else _nodding(model.rig)
    frame = export_frame(model, params, "torch")
    assert frame.gaussians.num == frame.num_total - frame.num_cut < model.num_gaussians
    gone = (~frame.kept[-junk:]).sum()  # the Gaussians put 12-20 cm below the neck ring (at rest)
    assert gone == junk if pose == "neutral" else gone > 0.8 * junk, int(gone)
    with torch.no_grad():
        verts = model.rig.forward(params)[0]
        means = blend(model, params, "torch").means
    ring = verts[list(model.head_cut.ring)]
    top = verts[model.head_cut.top]
    assert ((means[~frame.kept] - ring.mean(0)) @ (top - ring.mean(0))).max() < 0  # only below the ring
    full, cut = AvatarRenderer(model, (1.0, 1.0, 1.0), "torch"), AvatarRenderer(_without(model, frame.kept),
                                                                               (1.0, 1.0, 1.0), "torch")
    cameras = [camera_path(model.rig, "front", 96, 1)(0)]
    cameras += [camera_path(model.rig, "arc", 96, 8)(i) for i in (2, 6)]  # +-60 degrees
    cameras += [camera_path(model.rig, "orbit", 96, 8)(i) for i in (1, 3, 4, 6)]  # the back of the head too
    shown = 0.0
    for camera in cameras:
        with torch.no_grad():
            want, got = full.render(params, camera), cut.render(params, camera)
        torch.testing.assert_close(got.rgb, want.rgb, rtol=0, atol=1e-5)
        torch.testing.assert_close(got.alpha, want.alpha, rtol=0, atol=1e-5)
        shown = max(shown, float(want.alpha.mean()))
    assert shown > 0.1  # the head is in view


def test_a_cut_at_the_rings_plane_drops_the_neck_below_it_as_a_level_view_sees_it(cut_avatar, cpu_extension):
    """--cut-views 0: all that lies below the ring, which a camera level with the ring cuts
    exactly (the image's line is the plane seen edge on)."""
    model, _ = cut_avatar
    params = RigParams.zeros(model.rig.num_shape, model.rig.num_expr)
    default, plane = export_frame(model, params, "torch"), export_frame(model, params, "torch", view_elevation_deg=0.0)
    assert plane.num_cut > default.num_cut and not (plane.kept & ~default.kept).any()
    ring = model.rig.v_template[list(model.head_cut.ring)]
    level = float(ring[:, 1].min())
    camera = Camera.look_at((0.0, level, 0.9), (0.0, level, 0.0), 96, 96, fov_y_deg=30.0)
    with torch.no_grad():
        want = AvatarRenderer(model, (1.0, 1.0, 1.0), "torch").render(params, camera)
        got = AvatarRenderer(_without(model, plane.kept), (1.0, 1.0, 1.0), "torch").render(params, camera)
    torch.testing.assert_close(got.rgb, want.rgb, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="angle"):
        export_frame(model, params, "torch", view_elevation_deg=90.0)


def test_the_inria_file_shows_the_avatar_upright_to_an_opencv_camera(cut_avatar):
    """An OpenCV camera with no rotation (x right, y down, looking along +z), in front of the face
    at negative z, sees the exported avatar as `avatar render`'s front camera sees the avatar."""
    model, _ = cut_avatar
    params = RigParams.zeros(model.rig.num_shape, model.rig.num_expr)
    front = camera_path(model.rig, "front", 64, 1)(0)
    eye = front.position
    opencv = torch.eye(4)
    opencv[:3, 3] = -(eye * torch.tensor([1.0, -1.0, -1.0]))  # the camera at F eye, rotation identity
    camera = Camera(front.K, opencv, 64, 64)
    assert camera.position[2] < 0  # in front of the face: the face looks towards -z
    background = torch.ones(3)
    with torch.no_grad():
        exported = export_frame(model, params, "torch", cut=False).gaussians
        want = splat_reference(blend(model, params, "torch"), front, background)
        got = splat_reference(exported, camera, background)
    torch.testing.assert_close(got.rgb, want.rgb, rtol=0, atol=1e-4)
    rows = torch.nonzero(want.alpha[..., 0].amax(1) > 0.5)[:, 0]
    assert rows.min() < 16 and rows.max() > 48  # the whole head, top to neck, upright


def test_hidden_below_cut_takes_the_whole_extent_of_a_gaussian():
    """A Gaussian whose centre lies below the ring but whose extent reaches above it is kept."""
    rig = build_builtin_head()
    from capture.matte.head_mask import place_cut

    rest = rig.v_template
    below_mouth = rest[rest[:, 1] < -0.05]
    cut = place_cut(rig, below_mouth[below_mouth[:, 2].argmax()], -0.035)
    ring = rest[list(cut.ring)]
    low = float(ring[:, 1].min())
    centre = ring.mean(0)
    means = torch.tensor([[centre[0], low - 0.005, centre[2]]] * 2 + [[centre[0], low - 0.2, centre[2]]])
    scales = torch.tensor([[0.001, 0.001, 0.001], [0.001, 0.02, 0.001], [0.001, 0.001, 0.001]])
    g = Gaussians(means, torch.tensor([[1.0, 0, 0, 0]] * 3), scales, torch.full((3,), 0.9), torch.zeros(3, 1, 3))
    assert hidden_below_cut(g, rest, cut, 0.0).tolist() == [True, False, True]
    assert hidden_below_cut(g, rest, cut, CUT_VIEW_ELEVATION_DEG).tolist() == [False, False, True]


def test_the_export_command_writes_the_cut_avatar_in_inria_axes(cut_avatar, tmp_path):
    model, junk = cut_avatar
    save_avatar(model, tmp_path / "m.avatar", {"iterations": 1})
    assert main(["export", str(tmp_path / "m.avatar"), "--ply", str(tmp_path / "a.ply"), "--backend", "torch"]) == 0
    ply = PlyData.read(str(tmp_path / "a.ply"))
    params = RigParams.zeros(model.rig.num_shape, model.rig.num_expr)
    frame = export_frame(model, params, "torch")
    assert ply["vertex"].count == frame.gaussians.num < model.num_gaussians
    assert ply.comments[0] == AXES["inria"] and f"{frame.gaussians.num} of {model.num_gaussians}" in ply.comments[1]
    xyz = np.stack([ply["vertex"][c] for c in "xyz"], -1)
    np.testing.assert_allclose(xyz, frame.gaussians.means.numpy(), atol=1e-6)
    # --axes rig --no-cut: the blend as it is, every Gaussian (what the command wrote before).
    assert main(["export", str(tmp_path / "m.avatar"), "--ply", str(tmp_path / "b.ply"), "--backend", "torch",
                 "--axes", "rig", "--no-cut"]) == 0
    ply = PlyData.read(str(tmp_path / "b.ply"))
    assert ply["vertex"].count == model.num_gaussians and ply.comments[0] == AXES["rig"]
    xyz = np.stack([ply["vertex"][c] for c in "xyz"], -1)
    np.testing.assert_allclose(xyz, blend(model, params, "torch").means.detach().numpy(), atol=1e-6)
    assert main(["export", str(tmp_path / "m.avatar"), "--ply", str(tmp_path / "c.ply"), "--backend", "torch",
                 "--cut-views", "0"]) == 0
    assert PlyData.read(str(tmp_path / "c.ply"))["vertex"].count < frame.gaussians.num
    with pytest.raises(SystemExit):
        main(["export", str(tmp_path / "m.avatar"), "--ply", str(tmp_path / "d.ply"), "--cut-views", "90"])
    assert main(["export", str(tmp_path / "m.avatar"), "--ply", str(tmp_path / "d.ply"), "--frame", "1"]) == 2
    assert not (tmp_path / "d.ply").exists()


def test_a_clip_exports_as_one_ply_per_frame_into_a_folder_that_appears_whole(cut_avatar, tmp_path, monkeypatch):
    from avatar.data.expressions import save_expression_file

    model, _ = cut_avatar
    save_avatar(model, tmp_path / "m.avatar", {"iterations": 1})
    take = model.rig.zero_params(4)
    take.jaw[:, 0] = torch.linspace(0.0, 0.3, 4)  # the mouth opens over the clip
    save_expression_file(tmp_path / "take.npz", take, 30.0, model.rig.expr_names)
    base = ["export", str(tmp_path / "m.avatar"), "--expr", str(tmp_path / "take.npz"), "--backend", "torch"]
    assert main(base + ["--ply-sequence", str(tmp_path / "seq"), "--frames", "1:4"]) == 0
    meta = json.loads((tmp_path / "seq" / "sequence.json").read_text())
    assert meta["fps"] == 30.0 and meta["first_frame"] == 1 and meta["files"] == [f"frame_{t:05d}.ply" for t in (1, 2, 3)]
    for t in (1, 3):  # each file is the single-frame export of that frame
        assert main(base + ["--ply", str(tmp_path / f"one{t}.ply"), "--frame", str(t)]) == 0
        want, got = PlyData.read(str(tmp_path / f"one{t}.ply")), PlyData.read(str(tmp_path / "seq" / f"frame_{t:05d}.ply"))
        assert want["vertex"].data.tobytes() == got["vertex"].data.tobytes()
    first, last = (PlyData.read(str(tmp_path / "seq" / f"frame_{t:05d}.ply"))["vertex"]["y"] for t in (1, 3))
    assert not np.array_equal(first, last)  # the jaw moved
    assert main(base + ["--ply-sequence", str(tmp_path / "seq")]) == 2  # never into an existing folder
    assert main(base + ["--ply-sequence", str(tmp_path / "bad"), "--frames", "2:9"]) == 2
    assert main(["export", str(tmp_path / "m.avatar"), "--ply-sequence", str(tmp_path / "bad")]) == 2  # no --expr

    import avatar.cli.handlers as handlers

    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed half-way
        return write_3dgs_ply(*args, **kwargs)

    monkeypatch.setattr(handlers, "write_3dgs_ply", failing)
    assert main(base + ["--ply-sequence", str(tmp_path / "cut_short")]) == 130
    assert not (tmp_path / "cut_short").exists() and not (tmp_path / "cut_short.partial").exists()
