"""GaussianAvatar binding, blendshape offsets, .avatar files and .ply export."""

import math

import numpy as np
import pytest
import torch
from plyfile import PlyData

from avatar.gaussians import GaussianAvatar, blend
from avatar.gaussians.binding import triangle_frames
from avatar.gaussians.io import AvatarFileError, load_avatar, save_avatar
from avatar.export.ply import write_3dgs_ply
from avatar.gaussians.rotations import quat_to_matrix
from avatar.splat.sh import SH_C0
from avatar.rig.lbs import axis_angle_to_matrix
from tiny_rig import make_tiny_rig


def _random_model(seed: int = 0, per_face: int = 2) -> GaussianAvatar:
    rig = make_tiny_rig()
    model = GaussianAvatar.on_mesh(rig, per_face=per_face, sh_degree=1, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.attribute_tensors().items():
            t.add_(0.1 * torch.randn(t.shape, generator=g))
    return model


def _params(rig, seed=1, rotation=None, translation=None):
    g = torch.Generator().manual_seed(seed)
    p = rig.zero_params(1)
    p.expr[:] = torch.rand(p.expr.shape, generator=g)
    p.jaw[:] = 0.2 * torch.randn(1, 3, generator=g)
    if rotation is not None:
        p.rotation[:] = rotation
    if translation is not None:
        p.translation[:] = translation
    return p


def test_gaussian_at_origin_sits_on_triangle_centroid():
    model = _random_model()
    with torch.no_grad():
        model.xyz.zero_()
        model.d_xyz.zero_()
    p = _params(model.rig)
    g = blend(model, p, "torch")
    verts = model.rig.forward(p)[0]
    centroid = verts[model.rig.faces[model.parent]].mean(1)
    assert torch.allclose(g.means, centroid, atol=1e-6)


def test_blend_is_equivariant_under_global_head_motion():
    """Rotating/translating the head moves every Gaussian rigidly: an independent check of the
    triangle frames, quaternion composition and scale handling."""
    model = _random_model()
    aa = torch.tensor([0.3, -0.5, 0.2])
    t = torch.tensor([0.01, -0.02, 0.03])
    rest = blend(model, _params(model.rig), "torch")
    moved = blend(model, _params(model.rig, rotation=aa, translation=t), "torch")
    r = axis_angle_to_matrix(aa)
    v_shaped = model.rig.v_template  # zero shape; root joint from the regressor
    root = model.rig.j_regressor[0] @ (v_shaped + torch.einsum("vke,e->vk", model.rig.exprdirs, _params(model.rig).expr[0]))
    expected_means = (rest.means - root) @ r.T + root + t
    assert torch.allclose(moved.means, expected_means, atol=1e-5)
    assert torch.allclose(quat_to_matrix(moved.quats), r @ quat_to_matrix(rest.quats), atol=1e-5)
    assert torch.allclose(moved.scales, rest.scales, rtol=1e-5)
    assert torch.allclose(moved.opacities, rest.opacities)


def test_expression_offsets_equal_baked_attributes():
    """Σ_k w_k Δ_k applied by blend == the same sum baked into the base attributes."""
    model = _random_model()
    p = _params(model.rig)
    w = model.drivers(p)[0]
    baked = GaussianAvatar(model.rig, model.parent, model.sh_degree)
    with torch.no_grad():
        baked.xyz.copy_(model.xyz + torch.einsum("d,dnk->nk", w, model.d_xyz))
        baked.rot.copy_(model.rot + torch.einsum("d,dnk->nk", w, model.d_rot))
        baked.log_scale.copy_(model.log_scale + torch.einsum("d,dnk->nk", w, model.d_log_scale))
        baked.opacity_logit.copy_(model.opacity_logit + w @ model.d_opacity)
        baked.sh_dc.copy_(model.sh_dc + torch.einsum("d,dnk->nk", w, model.d_color)[:, None] / 0.28209479177387814)
        baked.sh_rest.copy_(model.sh_rest)
    a, b = blend(model, p, "torch"), blend(baked, p, "torch")
    for name in ("means", "quats", "scales", "opacities", "sh"):
        assert torch.allclose(getattr(a, name), getattr(b, name), atol=1e-5), name


def test_initial_discs_cover_their_triangles():
    rig = make_tiny_rig()
    model = GaussianAvatar.on_mesh(rig, per_face=1)
    g = blend(model, rig.zero_params(1), "torch")
    origin, rotation, unit = triangle_frames(rig.v_template[None], rig.faces)
    normal = rotation[0, :, :, 2]
    # The thin axis of every disc is its triangle's normal, and it sits in the triangle plane.
    thin = quat_to_matrix(g.quats)[:, :, 2]
    assert torch.allclose(thin.abs(), normal.abs(), atol=1e-5)
    assert torch.allclose(g.means, origin[0], atol=1e-6)
    area = 0.5 * torch.linalg.cross(rig.v_template[rig.faces[:, 1]] - rig.v_template[rig.faces[:, 0]],
                                    rig.v_template[rig.faces[:, 2]] - rig.v_template[rig.faces[:, 0]]).norm(dim=-1)
    assert torch.allclose(math.pi * g.scales[:, 0] ** 2, area, rtol=1e-4)


def test_avatar_file_round_trip(tmp_path):
    model = _random_model()
    path = tmp_path / "m.avatar"
    save_avatar(model, path, {"iterations": 7})
    loaded, config = load_avatar(path)
    assert config == {"iterations": 7}
    p = _params(model.rig)
    a, b = blend(model, p, "torch"), blend(loaded, p, "torch")
    for name in ("means", "quats", "scales", "opacities", "sh"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not (tmp_path / "m.avatar.partial").exists()


def test_truncated_and_tampered_avatar_files_are_rejected(tmp_path):
    path = tmp_path / "m.avatar"
    save_avatar(_random_model(), path)
    data = path.read_bytes()
    (tmp_path / "cut.avatar").write_bytes(data[: len(data) // 2])
    with pytest.raises(AvatarFileError, match="cut.avatar"):
        load_avatar(tmp_path / "cut.avatar")
    tampered = bytearray(data)
    tampered[-10] ^= 0xFF  # flip bits inside the last tensor's bytes
    (tmp_path / "bad.avatar").write_bytes(bytes(tampered))
    with pytest.raises(AvatarFileError, match="digest mismatch"):
        load_avatar(tmp_path / "bad.avatar")
    with pytest.raises(AvatarFileError, match="no such"):
        load_avatar(tmp_path / "missing.avatar")


def test_a_pickle_is_never_unpickled(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    path = tmp_path / "evil.avatar"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(AvatarFileError):
        load_avatar(path)


def test_unembeddable_rig_must_be_given_back(tmp_path):
    model = _random_model()
    model.rig.embeddable = False
    save_avatar(model, tmp_path / "f.avatar")
    with pytest.raises(AvatarFileError, match="not embedded"):
        load_avatar(tmp_path / "f.avatar")
    loaded, _ = load_avatar(tmp_path / "f.avatar", rig=model.rig)
    assert loaded.num_gaussians == model.num_gaussians
    other = make_tiny_rig(seed=5)
    with pytest.raises(AvatarFileError, match="not the one"):
        load_avatar(tmp_path / "f.avatar", rig=other)


def test_ply_export_has_the_3dgs_layout(tmp_path):
    model = _random_model()
    g = blend(model, _params(model.rig), "torch")
    write_3dgs_ply(g, tmp_path / "x.ply")
    v = PlyData.read(str(tmp_path / "x.ply"))["vertex"]
    names = [p.name for p in v.properties]
    assert names[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert names[-8:] == ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    assert sum(n.startswith("f_rest_") for n in names) == 9  # degree 1: 3 coefficients x 3 channels
    n = g.num
    np.testing.assert_allclose(np.stack([v["x"], v["y"], v["z"]], -1), g.means.detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(1 / (1 + np.exp(-v["opacity"])), g.opacities.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(np.exp(v["scale_1"]), g.scales[:, 1].detach().numpy(), rtol=1e-5)
    # f_rest is channel-major: f_rest_0..2 are red of coefficients 1..3.
    np.testing.assert_allclose(v["f_rest_1"], g.sh[:, 2, 0].detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(v["f_rest_3"], g.sh[:, 1, 1].detach().numpy(), atol=1e-7)
    assert len(v["x"]) == n


def test_gaussians_start_from_the_rigs_colours_when_asked():
    """Parts a video never shows (the inside of a mouth it never opens) keep the rig's colours
    instead of grey: the builtin head's dark mouth and white teeth."""
    from avatar.rig.loaders import load_rig

    rig = load_rig("builtin")
    grey = GaussianAvatar.on_mesh(rig, per_face=2, seed=0)
    coloured = GaussianAvatar.on_mesh(rig, per_face=2, seed=0, vertex_colors=rig.vertex_colors)
    assert torch.equal(grey.xyz, coloured.xyz) and torch.all(grey.sh_dc == 0)
    colour = coloured.sh_dc.detach()[:, 0] * SH_C0 + 0.5  # [N, 3]
    corners = rig.vertex_colors[rig.faces[coloured.parent]]  # [N, 3, 3]
    assert bool(((colour >= corners.amin(1) - 1e-5) & (colour <= corners.amax(1) + 1e-5)).all())
    flat = rig.vertex_colors[rig.faces].std(1).amax(-1) < 1e-6  # [F] triangles of one colour
    assert int(flat.sum()) > 100
    on_flat = flat[coloured.parent]
    assert torch.allclose(colour[on_flat], corners[on_flat, 0], atol=1e-5)
    assert float(colour.std(0).min()) > 0.05
