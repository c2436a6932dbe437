"""The .webavatar format (avatar/export/web_format.py): a ~100k-Gaussian avatar in at most 15 MB
whose read-back renders within 40 dB PSNR of the original, through the same CPU renderer."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.pose_drivers import DRIVERS_PER_RADIAN, HeadPoseDrivers
from avatar.model import Avatar, ExpressionRange, load_avatar
from avatar.export.web_format import WebAvatarError, read_web_avatar, write_web_avatar
from avatar.splat import Camera
from avatar.splat.framing import FRAMING_FOV_Y_DEG, framing_distance, head_target
from avatar.renderer import AvatarRenderer
from avatar.rig.builtin import build_builtin_head
from avatar.rig.cut_vertices import HeadCut
from avatar.rig.lbs import axis_angle_to_matrix
from avatar.training.image_metrics import psnr

MAX_BYTES = 15_000_000
MIN_PSNR = 40.0


# the real phone avatar's cut (builtin head vertices)
PHONE_CUT = HeadCut(ring=(4720, 4722, 4798, 4804, 4876, 4885, 4955, 4967, 5033, 5050, 5108, 5141, 5160, 5179),
                    sides=(3352, 3288), top=80, neck_margin=0.02)


def synthetic_avatar(seed: int = 0) -> Avatar:
    """~100k Gaussians on the builtin head (8 a triangle), SH degree 2, 12 expressions with
    offsets. Noise as avatar/bench/backends.py's bench_scene, but each driver moves a quarter of
    the Gaussians (a trained avatar's offsets are mostly ~0: an expression moves part of the face);
    the rest get offsets below the format's tolerances."""
    rig = build_builtin_head()
    model = GaussianAvatar.on_mesh(rig, per_face=8, sh_degree=2, blend_expr=12, seed=seed)
    g = torch.Generator().manual_seed(seed)
    tensors = {k: v.detach().clone() for k, v in model.attribute_tensors().items()}
    noise = {"xyz": 0.05, "rot": 0.05, "log_scale": 0.1, "sh_dc": 0.5, "sh_rest": 0.2, "d_xyz": 0.02, "d_rot": 0.02,
             "d_log_scale": 0.02, "d_opacity": 0.05, "d_color": 0.05}
    moved = torch.rand(model.num_drivers, model.num_gaussians, generator=g) < 0.25  # [D, N]
    for name, sigma in noise.items():
        x = sigma * torch.randn(tensors[name].shape, generator=g)
        if name.startswith("d_"):
            mask = moved.reshape(*moved.shape, *([1] * (x.dim() - 2)))
            x = torch.where(mask, x, x * 0.02)
        tensors[name] = tensors[name] + x
    model.replace_gaussians(tensors, model.parent)
    model.head_cut = PHONE_CUT
    identity = 0.5 * torch.randn(rig.num_shape, generator=g)
    e = rig.num_expr
    expression_range = ExpressionRange(torch.zeros(e), torch.ones(e), torch.tensor([-0.1, -0.2, -0.2]),
                                       torch.tensor([0.5, 0.2, 0.2]), torch.full((e,), 0.05))
    return Avatar(model, identity, (0.2, 0.3, 0.4), backend="cpu", expression_range=expression_range)


def frames(rig, count: int = 6, seed: int = 1):
    """Rig parameters with expressions, jaw and head poses, and cameras around the head."""
    g = torch.Generator().manual_seed(seed)
    centre, extent = head_target(rig)
    out = []
    for i in range(count):
        params = rig.zero_params(1)
        params.expr[0] = torch.rand(rig.num_expr, generator=g) * (0.9 if i else 0.0)
        params.jaw[0] = torch.tensor([0.25 * i / count, 0.03, -0.02])
        params.rotation[0] = 0.15 * (torch.rand(3, generator=g) - 0.5)
        params.neck[0] = 0.1 * (torch.rand(3, generator=g) - 0.5)
        params.eyes[0] = 0.2 * (torch.rand(6, generator=g) - 0.5)
        camera = Camera.orbit(-40 + 16 * i, 10 * math.sin(i), framing_distance(extent), centre, 192, 256,
                              FRAMING_FOV_Y_DEG)
        out.append((params, camera))
    return out


def psnrs(original: Avatar, read: Avatar, shots) -> list[float]:
    a = AvatarRenderer(original.model, original.background, "cpu")
    b = AvatarRenderer(read.model, read.background, "cpu")
    values = []
    for params, camera in shots:
        params.shape = original.identity()
        values.append(psnr(a.render(params, camera).rgb.clamp(0, 1), b.render(params, camera).rgb.clamp(0, 1)))
    return values


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, cpu_extension):
    avatar = synthetic_avatar()
    path = tmp_path_factory.mktemp("web") / "synthetic.webavatar"
    sizes = write_web_avatar(avatar, path)
    return avatar, path, sizes


def test_synthetic_fits_and_renders_alike(synthetic):
    avatar, path, sizes = synthetic
    assert avatar.model.num_gaussians >= 100_000
    assert path.stat().st_size == sizes["total"] <= MAX_BYTES, sizes
    read = read_web_avatar(path, backend="cpu")
    values = psnrs(avatar, read, frames(avatar.rig))
    assert min(values) >= MIN_PSNR, values


def test_read_back_holds_everything(synthetic):
    avatar, path, _ = synthetic
    read = read_web_avatar(path)
    model, original = read.model, avatar.model
    assert model.num_gaussians == original.num_gaussians and model.sh_degree == 2
    assert torch.equal(model.parent, original.parent) and torch.equal(model.blend_expr, original.blend_expr)
    assert model.head_cut == original.head_cut
    assert read.background == avatar.background
    assert torch.equal(read.identity(), avatar.identity())
    assert read.expression_range.to_dict() == avatar.expression_range.to_dict()
    assert read.rig.expr_names == avatar.rig.expr_names and read.rig.num_expr == avatar.rig.num_expr
    assert torch.equal(read.rig.faces, avatar.rig.faces) and torch.equal(read.rig.parents, avatar.rig.parents)
    # the identity is folded into the template: the read-back rig poses the same vertices
    params = frames(avatar.rig, 2)[1][0]
    params.shape = avatar.identity()
    assert torch.allclose(read.rig(params), avatar.rig(params), atol=2e-4)
    # small offsets are dropped, the large kept to 8 bits
    for name in ("d_xyz", "d_color"):
        big = getattr(original, name).abs() > 0.03
        error = (getattr(model, name) - getattr(original, name)).detach().abs()
        assert float(error[big].max()) < 0.02 * float(getattr(original, name).detach().abs().max())


def test_layout_is_aligned_little_endian(synthetic):
    import json
    import struct

    _, path, _ = synthetic
    data = path.read_bytes()
    assert data[:8] == b"AVWEB\0\0\0"
    version, length = struct.unpack_from("<II", data, 8)
    assert version == 1 and (16 + length) % 16 == 0
    header = json.loads(data[16:16 + length])
    for name, block in header["blocks"].items():
        assert block["offset"] % 16 == 0 and block["offset"] + block["length"] <= len(data), name
    xyz = header["blocks"]["g.xyz"]
    raw = np.frombuffer(data, "<f2", math.prod(xyz["shape"]), xyz["offset"]).reshape(xyz["shape"])
    assert np.array_equal(raw.astype(np.float32), read_web_avatar(path).model.xyz.detach().numpy())


def test_broken_files_are_refused(synthetic, tmp_path):
    _, path, _ = synthetic
    data = path.read_bytes()
    for name, broken in (("magic", b"XXXX" + data[4:]), ("truncated", data[: len(data) // 2]),
                         ("header", data[:16] + b"[" + data[17:]), ("block past the end", data[:-4096])):
        bad = tmp_path / f"{name}.webavatar"
        bad.write_bytes(broken)
        with pytest.raises(WebAvatarError):
            read_web_avatar(bad)


def test_an_avatar_trained_from_a_shared_clip_renders_alike(real_avatar, real_capture, tmp_path, cpu_extension):
    """The session's avatar trained from a shared clip (conftest), on 4 of its held-out frames.
    benchmarks/speed/web_format.py measures the same on any trained avatar (docs/results.md)."""
    from avatar.data.capture import load_capture

    avatar = load_avatar(real_avatar, backend="cpu")
    path = tmp_path / "model.webavatar"
    write_web_avatar(avatar, path)
    read = read_web_avatar(path, backend="cpu")
    capture = load_capture(real_capture)
    test = capture.splits["test"]
    picked = [test[i] for i in np.linspace(0, len(test) - 1, 4).round().astype(int)]
    values = psnrs(avatar, read, [(capture.frame_params(f), capture.camera(f)) for f in picked])
    assert min(values) >= MIN_PSNR, values

def scattered_avatar() -> Avatar:
    """A small avatar whose offsets are driven by 4 expressions scattered over the rig's, out of order."""
    rig = build_builtin_head()
    g = torch.Generator().manual_seed(3)
    model = GaussianAvatar.on_mesh(rig, sh_degree=1, blend_expr=torch.tensor([41, 3, 20, 7]))
    model.replace_gaussians({k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in
                             model.attribute_tensors().items()}, model.parent)
    model.head_cut = dataclasses.replace(PHONE_CUT, shoulders=lower_neck_faces(rig))  # the engines must agree on it
    return Avatar(model, torch.zeros(rig.num_shape), backend="cpu")


def pose_avatar() -> Avatar:
    """scattered_avatar whose offsets also follow the head's rotation: a mean pose and a range that
    `frames`' poses leave on both sides, and offsets for the 3 pose drivers."""
    avatar = scattered_avatar()
    model = avatar.model
    pose = HeadPoseDrivers(axis_angle_to_matrix(torch.tensor([0.02, -0.03, 0.01])), torch.tensor([-0.04, -0.05, -0.03]),
                           torch.tensor([0.05, 0.03, 0.04]))
    posed = GaussianAvatar(model.rig, model.parent, model.sh_degree, model.blend_expr, pose)
    g = torch.Generator().manual_seed(4)
    tensors = {k: v.detach().clone() for k, v in model.attribute_tensors().items()}
    for name in GaussianAvatar.OFFSETS:  # the 3 pose drivers' offsets appended, larger than the others
        extra = 0.5 * torch.randn(3, *tensors[name].shape[1:], generator=g)
        tensors[name] = torch.cat([tensors[name], extra])
    posed.replace_gaussians(tensors, model.parent)
    posed.head_cut = model.head_cut
    return Avatar(posed, avatar.identity(), backend="cpu")


def test_pose_drivers_are_stored_exactly_and_drive_the_read_back_alike(tmp_path, cpu_extension):
    avatar = pose_avatar()
    path = tmp_path / "pose.webavatar"
    write_web_avatar(avatar, path)
    read = read_web_avatar(path, backend="cpu")
    for name in ("mean", "low", "high"):
        assert torch.equal(getattr(read.model.pose_drivers, name), getattr(avatar.model.pose_drivers, name))
    assert read.model.num_drivers == 4 + 3 + 3
    shots = frames(avatar.rig, 4)
    for params, _ in shots:
        assert torch.equal(read.model.drivers(params), avatar.model.drivers(params))
    drivers = torch.stack([avatar.model.drivers(p)[0, -3:] for p, _ in shots])  # some frames at an end of the range
    ends = avatar.model.pose_low * DRIVERS_PER_RADIAN, avatar.model.pose_high * DRIVERS_PER_RADIAN
    assert ((drivers == ends[0]) | (drivers == ends[1])).any()
    assert min(psnrs(avatar, read, shots)) >= MIN_PSNR


def lower_neck_faces(rig) -> tuple[int, ...]:
    """The builtin head's triangles of its neck's lower part: named as a cut's shoulders, they take
    a piece out of the region between the cut's lines."""
    corners = rig.v_template[rig.faces]  # [F, 3, 3]
    return tuple(torch.nonzero((corners[..., 1] < -0.12).all(1)).flatten().tolist())


def test_scattered_expressions_drive_the_read_back_alike(tmp_path, cpu_extension):
    avatar = scattered_avatar()
    path = tmp_path / "scattered.webavatar"
    write_web_avatar(avatar, path)
    read = read_web_avatar(path, backend="cpu")
    assert read.model.blend_expr.tolist() == [41, 3, 20, 7] and read.model.num_drivers == 4 + 3
    params = frames(avatar.rig, 3)[2][0]
    assert torch.equal(read.model.drivers(params), avatar.model.drivers(params))
    assert min(psnrs(avatar, read, frames(avatar.rig, 3))) >= MIN_PSNR


def _with_basis_blocks(path, out, mean: np.ndarray, basis: np.ndarray, blend_expr):
    """The file at `path` as an older build wrote it: g.expr_mean [E] / g.expr_basis [K, E] blocks
    beside the header's blend_expr."""
    from avatar.export.web_format import _pack, _unpack

    meta, arrays = _unpack(path.read_bytes())
    meta = {k: v for k, v in meta.items() if k != "blocks"}
    meta["gaussians"] = meta["gaussians"] | {"blend_expr": blend_expr}
    data, _ = _pack(meta, arrays | {"g.expr_mean": mean.astype(np.float32), "g.expr_basis": basis.astype(np.float32)})
    out.write_bytes(data)
    return out


def test_a_file_with_the_selection_as_basis_blocks_reads_its_selection(synthetic, tmp_path):
    """Files written while a PCA basis could drive the offsets hold the selection twice: in the
    header (gaussians.blend_expr) and as one-hot g.expr_basis rows; the header is read."""
    avatar, path, _ = synthetic
    e = avatar.rig.num_expr
    older = _with_basis_blocks(path, tmp_path / "older.webavatar", np.zeros(e), np.eye(e)[:12], list(range(12)))
    read = read_web_avatar(older)
    assert read.model.blend_expr.tolist() == avatar.model.blend_expr.tolist() == list(range(12))
    params = frames(avatar.rig, 2)[1][0]
    assert torch.equal(read.model.drivers(params), avatar.model.drivers(params))


def test_a_file_trained_with_the_removed_pca_basis_is_refused_with_why(synthetic, tmp_path):
    """An older build's `expr_pca_variance` drove the offsets by a PCA basis (blend_expr null): the
    reader names the file and says to train it again."""
    avatar, path, _ = synthetic
    e, g = avatar.rig.num_expr, np.random.default_rng(0)
    pca = _with_basis_blocks(path, tmp_path / "pca.webavatar", 0.3 * g.random(e), g.standard_normal((12, e)), None)
    with pytest.raises(WebAvatarError, match=r"pca\.webavatar: .*expr_pca_variance option, which has been removed; "
                                             r"train it again"):
        read_web_avatar(pca)
