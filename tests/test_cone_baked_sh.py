"""The view cone baked into exported SH (avatar.export.cone_baked_sh): what a reader without a
cone shows from anywhere is what the engine shows through it."""

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from plyfile import PlyData

from avatar.cli.main import main
from avatar.export.cone_baked_sh import bake_view_cone, sphere_directions
from avatar.export.gltf_splats import splat_points
from avatar.export.ply_frame import export_frame
from avatar.gaussians import GaussianAvatar, blend
from avatar.gaussians.io import save_avatar
from avatar.rig import RigParams
from avatar.rig.builtin import build_builtin_head
from avatar.splat.framing import framing_distance, head_target
from avatar.splat.sh import sh_to_colour
from avatar.splat.view_cone import ViewCone
from avatar.splat.world import Gaussians

AXIS = tuple(v / math.sqrt(105) for v in (2.0, 1.0, 10.0))  # a unit vector, off the z axis


def _gaussians(degree: int, n: int = 300, seed: int = 0) -> Gaussians:
    """Gaussians over a head-sized box at the origin with strong colours in every SH band."""
    g = torch.Generator().manual_seed(seed)
    means = ((torch.rand(n, 3, generator=g) - 0.5) * torch.tensor([0.2, 0.25, 0.2])).double()
    sh = 0.3 * torch.randn(n, (degree + 1) ** 2, 3, generator=g).double()
    ones = torch.ones(n, dtype=torch.float64)
    return Gaussians(means, torch.randn(n, 4, generator=g).double(), 0.01 * ones[:, None].expand(n, 3), ones / 2, sh)


def _colours(sh: torch.Tensor, means: torch.Tensor, seen_from: torch.Tensor) -> torch.Tensor:
    """[C, N, 3] each Gaussian's colour seen from each of the points [C, 3]."""
    return torch.stack([sh_to_colour(sh, means - point) for point in seen_from])


def test_origins_are_the_nearest_points_of_the_cone_at_the_same_distance():
    cone = ViewCone(AXIS, math.radians(25), (0.0, 0.0, 0.0))
    centre = torch.tensor([0.01, -0.02, 0.03], dtype=torch.float64)
    a = torch.tensor(AXIS, dtype=torch.float64)
    positions = centre + 0.8 * torch.cat([sphere_directions(200), -a[None]])  # straight behind too
    origins = cone.origins(centre, positions)  # [P, 3]
    u, o = positions - centre, origins - centre
    inside = torch.nn.functional.normalize(u, dim=-1) @ a >= math.cos(cone.half_angle)
    assert 0 < int(inside.sum()) < len(positions)
    torch.testing.assert_close(origins[inside], positions[inside], rtol=0, atol=0)
    torch.testing.assert_close(o.norm(dim=-1), u.norm(dim=-1), rtol=0, atol=1e-12)
    angle = torch.arccos((torch.nn.functional.normalize(o[~inside], dim=-1) @ a).clamp(-1, 1))
    torch.testing.assert_close(angle, torch.full_like(angle, cone.half_angle), rtol=0, atol=1e-9)
    # On the edge in the plane of the axis and the position's direction, on its side.
    normal = torch.linalg.cross(a.expand_as(u[~inside]), u[~inside])
    side = normal.norm(dim=-1) > 1e-9
    assert ((o[~inside] * normal).sum(-1)[side].abs() < 1e-9).all()
    assert ((o[~inside] @ a - (u[~inside] @ a))[side] > -1e-12).all()  # turned towards the axis, never away
    # One at a time, posed at a frame: the same.
    params = RigParams.zeros(0, 0)
    params.translation = centre[None].float()
    for p in positions[:5]:
        torch.testing.assert_close(cone.origin(params, p), cone.origins(centre, p[None])[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_a_cone_of_every_direction_bakes_to_the_same_coefficients(degree):
    g = _gaussians(degree)
    baked = bake_view_cone(g, ViewCone(AXIS, math.pi, (0.0, 0.0, 0.0)), RigParams.zeros(0, 0), 0.9)
    torch.testing.assert_close(baked.sh, g.sh, rtol=0, atol=1e-9)
    assert baked.means is g.means and baked.opacities is g.opacities


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_baked_coefficients_show_from_anywhere_what_the_engine_shows(degree):
    """Cameras all round the head at the baking distance: the baked SH seen from each come close
    to the raw SH seen from where the cone moves it; the raw SH seen from there do not."""
    g = _gaussians(degree)
    params = RigParams.zeros(0, 0)
    cameras = sphere_directions(300) * 0.9  # [C, 3] around the head's centre (the origin)
    for half_angle_deg, most in ((3.0, 0.005), (40.0, 0.05)):
        cone = ViewCone(AXIS, math.radians(half_angle_deg), (0.0, 0.0, 0.0))
        baked = bake_view_cone(g, cone, params, 0.9)
        engine = torch.stack([sh_to_colour(g.sh, g.means - cone.origin(params, c)) for c in cameras])
        baked_error = float((_colours(baked.sh, g.means, cameras) - engine).abs().mean())
        raw_error = float((_colours(g.sh, g.means, cameras) - engine).abs().mean())
        assert baked_error < most and baked_error < raw_error / 5, (half_angle_deg, baked_error, raw_error)


def test_degree_zero_is_left_as_it_is():
    g = _gaussians(0)
    assert bake_view_cone(g, ViewCone(AXIS, 0.05, (0.0, 0.0, 0.0)), RigParams.zeros(0, 0), 0.9) is g


@pytest.fixture(scope="module")
def coned_avatar():
    """The built-in head with degree-2 colours and a narrow view cone, as a phone video records."""
    rig = build_builtin_head()
    model = GaussianAvatar.on_mesh(rig, per_face=1, sh_degree=2, vertex_colors=torch.full_like(rig.v_template, 0.6))
    with torch.no_grad():
        model.sh_rest.normal_(0.0, 0.2, generator=torch.Generator().manual_seed(3))
    model.view_cone = ViewCone(AXIS, math.radians(3), (0.0, -0.03, 0.0))
    return model


def test_the_exports_write_the_cone_baked_in(coned_avatar, tmp_path):
    model = coned_avatar
    params = RigParams.zeros(model.rig.num_shape, model.rig.num_expr)
    params.rotation = torch.tensor([[0.1, -0.3, 0.0]])
    frame = export_frame(model, params, "torch", axes="rig", cut=False)
    world = blend(model, params, "torch").detach()
    distance = framing_distance(head_target(model.rig)[1])
    assert frame.cone_baked
    torch.testing.assert_close(frame.gaussians.sh, bake_view_cone(world, model.view_cone, params, distance).sh)
    assert (frame.gaussians.sh - world.sh).abs().max() > 0.1
    points = splat_points(model, torch.zeros(model.rig.num_shape), cut=False)
    assert points.cone_baked and abs(points.sh - world.sh.numpy()).max() > 0.1
    save_avatar(model, tmp_path / "m.avatar", {"iterations": 1})
    assert main(["export", str(tmp_path / "m.avatar"), "--ply", str(tmp_path / "a.ply"), "--backend", "torch"]) == 0
    assert any("view cone baked in" in c for c in PlyData.read(str(tmp_path / "a.ply")).comments)


def test_an_avatar_without_a_cone_exports_its_coefficients(coned_avatar):
    model = GaussianAvatar.on_mesh(coned_avatar.rig, per_face=1, sh_degree=2)
    with torch.no_grad():
        model.sh_rest.copy_(coned_avatar.sh_rest)
    params = RigParams.zeros(model.rig.num_shape, model.rig.num_expr)
    frame = export_frame(model, params, "torch", axes="rig", cut=False)
    assert not frame.cone_baked
    torch.testing.assert_close(frame.gaussians.sh, blend(model, params, "torch").sh.detach(), rtol=0, atol=0)
    assert not splat_points(model, torch.zeros(model.rig.num_shape), cut=False).cone_baked


def test_the_benchmark_reads_the_file_back_and_sees_the_cone_baked_in(coned_avatar, tmp_path):
    """benchmarks/quality/export_colour.py: the exported .ply read back renders the engine's
    colours from turned cameras far closer than the raw coefficients do."""
    save_avatar(coned_avatar, tmp_path / "m.avatar", {"iterations": 1})
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "quality" / "export_colour.py"
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "m.avatar"), "--angles=-35,35", "--size", "64"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    row = next(line for line in run.stdout.splitlines() if line.startswith("| m |"))
    for cell in row.split("|")[4:6]:
        raw, baked = (float(v) for v in cell.split("->"))
        assert baked > raw + 10 and baked > 35, row
