"""The web player (`avatar export --web`, web/): its engine in Node against the Python engine,
stage by stage; its page in headless Chromium (the system's, WebGL2 on SwiftShader) against
`Avatar.render` at several expressions, poses and cameras (PSNR >= 35 dB) on the demo avatar and
on an avatar trained from a real clip; embedded sequences, Live Link CSVs dropped on the page,
the parameter stream of `avatar view --serve`; the export command; the committed bundle."""

from __future__ import annotations

import contextlib

import csv
import dataclasses
import json
import math
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar.cli.main import main
from avatar.data.livelink import REQUIRED_COLUMNS
from avatar.gaussians.reference import blend_reference
from avatar.model import Avatar, load_avatar
from avatar.export.web_format import read_web_avatar, read_web_levels, write_web_avatar
from avatar.export.web_levels import measured_on
from avatar.splat import Camera
from avatar.splat.framing import FRAMING_FOV_Y_DEG, camera_path, framing_distance, head_target
from avatar.splat.sh import sh_to_colour
from avatar.splat.view_cone import ViewCone
from avatar.renderer.cut import CutRegion
from avatar.renderer.lod import KEEP_FRACTIONS, levels_of_detail
from avatar.export import export_web
from avatar.web.headless import open_player, params_json, render_in_page, served
from headless import viewer_missing, xvfb_avatar
from test_web_format import _with_basis_blocks, frames, pose_avatar, scattered_avatar, synthetic_avatar
from web_page import browser, psnr_uint8, stages_in_page, to_uint8

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
MIN_PSNR = 35.0
SIZE = 160  # SwiftShader draws on the CPU: small frames keep the tests quick


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the web player's engine runs in Node for these tests)")
    return node


# ---- the engine in Node against the Python engine -------------------------------------------------


def hanging_hair_avatar():
    """scattered_avatar with a cut that keeps hanging hair (renders cut at the neck line alone)."""
    avatar = scattered_avatar()
    avatar.model.head_cut = dataclasses.replace(avatar.model.head_cut, hanging_hair=True)
    return avatar


def view_cone_avatar():
    """scattered_avatar whose colours are seen from inside a narrow cone around the front, which
    `frames`' cameras (turned -40 to +40 degrees) mostly leave."""
    avatar = scattered_avatar()
    avatar.model.view_cone = ViewCone((0.0, 0.1, 0.995), math.radians(12), (0.0, -0.03, 0.01))
    return avatar


def correctives_avatar():
    """scattered_avatar on a rig with pose correctives (posedirs, as FLAME's; made up here)."""
    avatar = scattered_avatar()
    rig = avatar.rig
    rig.posedirs = 2e-3 * torch.randn(rig.posedirs.shape, generator=torch.Generator().manual_seed(5))
    return avatar


@pytest.mark.parametrize(
    "make_avatar",
    [synthetic_avatar, scattered_avatar, hanging_hair_avatar, pose_avatar, view_cone_avatar, correctives_avatar],
    ids=["selection", "scattered-selection", "hanging-hair", "pose-drivers", "view-cone", "pose-correctives"],
)
def test_the_gpu_stages_match_the_python_engine_stage_by_stage(chromium, tmp_path, make_avatar, cpu_extension):
    """Posed vertices, world Gaussians, colours, the draw order and the cut's region as the page's
    GPU passes compute them (read back from their textures) against the Python reference on the
    same (dequantised) file; offsets driven by the first expressions and by expressions scattered
    over the rig's, out of order, and by the head's pose; cuts of both kinds; colours seen from
    inside a view cone; a rig with pose correctives."""
    avatar = make_avatar()
    export_web(avatar, tmp_path / "web")
    read = read_web_avatar(tmp_path / "web" / "avatar.webavatar", backend="cpu")
    shots = frames(avatar.rig, 3)
    if read.model.view_cone is not None:  # some of the cameras see the colours from elsewhere
        assert any(not torch.equal(read.renderer.seen_from(p, c).view_origin, c.position) for p, c in shots)
    with served(tmp_path / "web") as url:
        page = open_player(chromium, url)
        for params, camera in shots:
            got = stages_in_page(page, params_json(params), camera)
            with torch.no_grad():
                params.shape = torch.zeros(read.rig.num_shape)  # the identity is in the file's template
                verts = read.rig.forward(params)[0]  # [V, 3]
                world = blend_reference(read.model, params, verts)
                origin = read.renderer.seen_from(params, camera).view_origin  # the camera's centre without a cone
                colours = sh_to_colour(world.sh, world.means - origin)  # [N, 3]
                region = CutRegion(read.model.head_cut)(verts, read.rig.faces, camera)[..., 0].numpy()
            np.testing.assert_allclose(got["verts"].reshape(-1, 3), verts.numpy(), atol=2e-6)
            np.testing.assert_allclose(got["means"].reshape(-1, 3), world.means.numpy(), atol=2e-6)
            quats = torch.nn.functional.normalize(world.quats, dim=-1).numpy()
            q = got["quats"].reshape(-1, 4)
            assert np.minimum(np.abs(q - quats).max(1), np.abs(q + quats).max(1)).max() < 1e-4  # q, -q: one rotation
            np.testing.assert_allclose(got["scales"].reshape(-1, 3), world.scales.numpy(), rtol=1e-4)
            np.testing.assert_allclose(got["opacities"], world.opacities.numpy(), atol=1e-6)
            np.testing.assert_allclose(got["colours"].reshape(-1, 3), colours.numpy(), atol=1e-5)
            differ = int((got["region"].reshape(camera.height, camera.width) != region).sum())
            assert differ <= 2, differ  # float32 on the GPU, float64 in the op: a centre on an edge either way
            # the draw order: every visible one once, back to front (depths computed here in
            # float64; the GPU's are float32, ties by index)
            means = got["means"].reshape(-1, 3)
            to_camera = camera.to(dtype=torch.float64).to_camera
            depth = to_camera(torch.from_numpy(means).double())[:, 2].numpy()
            visible = (depth > camera.near) & (depth <= camera.far) & (got["opacities"] >= np.float32(1 / 255))
            order = got["order"].astype(np.int64)
            np.testing.assert_array_equal(np.sort(order), np.nonzero(visible)[0])
            assert (np.diff(depth[order]) <= 2e-7 * depth[order][1:]).all()
        page.close()


def test_the_player_refuses_a_file_of_the_removed_pca_basis_with_why(tmp_path):
    """As the Python reader: blend_expr null (offsets driven by a PCA basis, expr_pca_variance) names
    the file and says to train it again."""
    node = node_or_skip()
    avatar = scattered_avatar()
    write_web_avatar(avatar, tmp_path / "a.webavatar")
    e, g = avatar.rig.num_expr, np.random.default_rng(0)
    pca = _with_basis_blocks(
        tmp_path / "a.webavatar", tmp_path / "pca.webavatar", 0.3 * g.random(e), g.standard_normal((4, e)), None
    )
    run = subprocess.run(
        [node, str(WEB / "tests" / "layout_cli.mjs"), str(pca)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0
    assert f"{pca}: its offsets are driven by a PCA" in run.stderr and "expr_pca_variance" in run.stderr


def test_the_javascript_unit_tests_pass():
    """web/tests/*.test.mjs (the GPU layout, the depth sort, the cut's row spans, the CSV reader's
    errors, sequences) with node --test."""
    node = node_or_skip()
    run = subprocess.run(
        [node, "--test", *sorted(str(p) for p in (WEB / "tests").glob("*.test.mjs"))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


def test_the_committed_bundle_is_built_from_the_sources():
    """avatar/web/player/ holds what `npm run build` makes of web/src (the package ships it)."""
    node = node_or_skip()
    if not (WEB / "node_modules" / "esbuild").is_dir():
        pytest.skip("web/node_modules is missing (npm ci in web/; .ci/run does it)")
    run = subprocess.run([node, str(WEB / "build.mjs"), "--check"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


# ---- the page against Avatar.render ---------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("web_demo")
    assert (
        main(
            [
                "demo",
                "--out",
                str(out / "demo"),
                "--size",
                "64",
                "--train-frames",
                "12",
                "--test-frames",
                "4",
                "--iterations",
                "150",
            ]
        )
        == 0
    )
    return out / "demo" / "model.avatar"


def _shots(avatar, count: int, seed: int = 3):
    """Expressions, jaw, neck, eye and head poses from the avatar's range, with cameras from the
    front, turned and raised."""
    rig = avatar.rig
    g = torch.Generator().manual_seed(seed)
    centre, extent = head_target(rig)
    out = []
    for i in range(count):
        params = rig.zero_params(1)
        if i:
            params.expr[0] = torch.rand(rig.num_expr, generator=g) * 0.7
            params.jaw[0] = torch.tensor([0.2 * i / count, 0.02, -0.01])
            params.rotation[0] = 0.2 * (torch.rand(3, generator=g) - 0.5)
            params.neck[0] = 0.1 * (torch.rand(3, generator=g) - 0.5)
            params.eyes[0] = 0.2 * (torch.rand(6, generator=g) - 0.5)
        camera = Camera.orbit(
            -30 + 20 * i, 8 * math.sin(i), framing_distance(extent), centre, SIZE, SIZE, FRAMING_FOV_Y_DEG
        )
        out.append((params, camera))
    return out


def _page_psnrs(chromium, folder: Path, avatar, shots, query: str = "manual=1") -> list[float]:
    values = []
    with served(folder) as url:
        page = open_player(chromium, url, query)
        for params, camera in shots:
            params, _ = avatar.params(params)  # the avatar's identity, as every command renders it
            image, _ = render_in_page(page, params_json(params), camera)
            values.append(psnr_uint8(image, to_uint8(avatar.renderer.render(params, camera).rgb)))
        page.close()
    return values


def test_the_page_renders_the_demo_avatar_as_the_engine_does(chromium, demo_model, tmp_path, cpu_extension):
    avatar = load_avatar(demo_model, backend="cpu")
    export_web(avatar, tmp_path / "web")
    values = _page_psnrs(chromium, tmp_path / "web", avatar, _shots(avatar, 5))
    assert min(values) >= MIN_PSNR, values


def test_a_frame_drawn_in_the_last_frames_order_still_renders_as_the_engine_does(
    chromium, real_avatar, real_capture, tmp_path, cpu_extension
):
    """The frames between sorts (player.js's SORT_EVERY) draw in the order sorted for the frame
    before: consecutive frames of the tracked clip, the camera moving along the arc as well, each
    drawn in the order of the one before, against Avatar.render and against the page's own exact
    render of it."""
    avatar = load_avatar(real_avatar, backend="cpu")
    export_web(avatar, tmp_path / "web")
    tracked, _ = avatar.params(real_capture)
    cameras = camera_path(avatar.rig, "arc", SIZE, tracked.num_frames)
    engine, exact = [], []
    with served(tmp_path / "web") as url:
        page = open_player(chromium, url)
        for t in range(1, tracked.num_frames, max(2, tracked.num_frames // 4)):
            render_in_page(page, params_json(tracked.frame(t - 1)), cameras(t - 1))  # sorts frame t - 1
            stale, result = render_in_page(page, params_json(tracked.frame(t)), cameras(t), in_last_order=True)
            assert result["workerMs"] == 0  # no sort: the last order
            own, _ = render_in_page(page, params_json(tracked.frame(t)), cameras(t))
            engine.append(psnr_uint8(stale, to_uint8(avatar.renderer.render(tracked.frame(t), cameras(t)).rgb)))
            exact.append(psnr_uint8(stale, own))
        page.close()
    assert min(engine) >= MIN_PSNR, engine
    assert min(exact) >= 40.0, exact  # what the last order costs, against the frame's own


@pytest.mark.parametrize("target", ["rgba16f", "rgba8"])
def test_lesser_blend_targets_still_render_faithfully(chromium, demo_model, tmp_path, target, cpu_extension):
    """Browsers without float blending (many phones) accumulate in half floats or in the canvas."""
    avatar = load_avatar(demo_model, backend="cpu")
    export_web(avatar, tmp_path / "web")
    values = _page_psnrs(chromium, tmp_path / "web", avatar, _shots(avatar, 2), f"manual=1&target={target}")
    assert min(values) >= MIN_PSNR, values


def test_the_page_renders_an_avatar_of_a_real_clip_as_the_engine_does(
    chromium, real_avatar, real_capture, tmp_path, cpu_extension
):
    """Held-out frames of the tracked clip (its own expressions and poses, its camera framing of
    the head) and the synthetic poses, with the cut below the head."""
    avatar = load_avatar(real_avatar, backend="cpu")
    assert avatar.model.head_cut is not None
    export_web(avatar, tmp_path / "web")
    tracked, _ = avatar.params(real_capture)
    shots = [
        (tracked.frame(t), camera_path(avatar.rig, "arc", SIZE, tracked.num_frames)(t))
        for t in range(0, tracked.num_frames, max(1, tracked.num_frames // 4))
    ]
    values = _page_psnrs(chromium, tmp_path / "web", avatar, shots + _shots(avatar, 3))
    assert min(values) >= MIN_PSNR, values


# The builtin head's neck ring as tracking places it (capture.matte.head_mask.place_cut, which
# leaves no shoulders out of that rig): symmetric in x, so that seen from straight ahead its
# projection is level to ~1e-19 rad.
LEVEL_RING = (4720, 4722, 4798, 4804, 4876, 4885, 4955, 4967, 5033, 5050, 5051, 5052, 5108, 5109, 5110)
LEVEL_RING += tuple(range(5141, 5180))


@pytest.mark.parametrize("hanging_hair", [False, True], ids=["cut", "hanging-hair"])
def test_a_cut_seen_from_straight_ahead_is_the_engines(chromium, tmp_path, hanging_hair, cpu_extension):
    """Cameras in front of the head, raised 0 to 5 degrees, see the neck ring's line level: it
    crosses each row ~1e19 px away, and the page once kept stripes of the rows below it."""
    avatar = scattered_avatar()
    cut = avatar.model.head_cut
    avatar.model.head_cut = dataclasses.replace(cut, ring=LEVEL_RING, shoulders=(), hanging_hair=hanging_hair)
    export_web(avatar, tmp_path / "web")
    centre, extent = head_target(avatar.rig)
    ahead = [
        Camera.orbit(0, pitch, framing_distance(extent), centre, SIZE, SIZE, FRAMING_FOV_Y_DEG) for pitch in (0, 2, 5)
    ]
    values = _page_psnrs(chromium, tmp_path / "web", avatar, [(avatar.rig.zero_params(1), c) for c in ahead])
    assert min(values) >= MIN_PSNR, values


def test_the_page_at_the_coarse_level_draws_the_viewers_pruned_avatar(chromium, demo_model, tmp_path, cpu_extension):
    """The export carries the full avatar and the viewer's coarsest level of detail (its 40 % most
    contributing Gaussians), with their counts and PSNR against the full avatar; the page at
    `?lod=1` draws that level (as Avatar.render draws lod's pruned model, and not the full avatar)
    and says so on its counter, at `?lod=0` the full avatar."""
    avatar = load_avatar(demo_model, backend="cpu")
    manifest = export_web(avatar, tmp_path / "web")
    n = avatar.model.num_gaussians
    full, coarse = manifest["levels"]
    assert full == {"count": n, "psnr_db": None, "psnr_min_db": None}
    assert coarse["count"] == round(KEEP_FRACTIONS[-1] * n) and 20 < coarse["psnr_min_db"] <= coarse["psnr_db"]
    assert read_web_levels(tmp_path / "web" / "avatar.webavatar") == manifest["levels"]
    (level,) = levels_of_detail(avatar.model, *measured_on(avatar), KEEP_FRACTIONS[-1:], avatar.background)
    assert level.kept == coarse["count"] and round(level.psnr_mean, 2) == coarse["psnr_db"]
    small = Avatar(level.model, avatar.identity_shape, avatar.background, backend="cpu")
    shots = _shots(avatar, 4)
    with served(tmp_path / "web") as url:
        page = open_player(chromium, url, "manual=1&lod=1")
        to_small, to_full = [], []
        for params, camera in shots:
            params, _ = avatar.params(params)
            image, timings = render_in_page(page, params_json(params), camera)
            assert timings["splats"] <= coarse["count"]
            to_small.append(psnr_uint8(image, to_uint8(small.renderer.render(params, camera).rgb)))
            to_full.append(psnr_uint8(image, to_uint8(avatar.renderer.render(params, camera).rgb)))
        page.wait_for_function("document.getElementById('hud').textContent.includes('lod')")
        hud = page.evaluate("document.getElementById('hud').textContent")
        page.close()
        page = open_player(chromium, url, "manual=1&lod=0")
        _, timings = render_in_page(page, params_json(avatar.params(shots[0][0])[0]), shots[0][1])
        page.close()
    assert min(to_small) >= MIN_PSNR, to_small
    assert sum(to_small) / len(to_small) > sum(to_full) / len(to_full) + 5, (to_small, to_full)
    cost = f"{coarse['psnr_db']:.1f} dB (worst {coarse['psnr_min_db']:.1f})"
    assert f"lod 1/1: {coarse['count']} Gaussians, {cost}" in hud, hud
    assert timings["splats"] > coarse["count"]


# ---- sequences, Live Link CSVs, the parameter stream -----------------------------------------------


def _write_livelink(path: Path, frames: int = 20, seed: int = 0) -> None:
    """A Live Link Face CSV with every blendshape and angle moving."""
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Timecode", "BlendshapeCount", *REQUIRED_COLUMNS])
        for t in range(frames):
            values = [*rng.uniform(0, 0.8, 52), *rng.uniform(-0.3, 0.3, 9)]
            w.writerow([f"00:00:01:{t:02d}.000", 61, *[f"{v:.5f}" for v in values]])


def _page_params(page, sequence: int, frame: int) -> dict:
    return page.evaluate("([s, f]) => window.avatarPlayer.sequences[s].params(f)", [sequence, frame])


def test_sequences_and_dropped_live_link_csvs_pose_the_avatar_as_the_engine_does(
    chromium, demo_model, tmp_path, cpu_extension
):
    """An --expr sequence holds the engine's params frame for frame; the same CSV dropped on the
    page is mapped by the page (ARKit names, jaw, head and eyes, resting face, range) to the same
    params; a rendered frame of it matches Avatar.render."""
    avatar = load_avatar(demo_model, backend="cpu")
    take = tmp_path / "take.csv"
    _write_livelink(take)
    export_web(avatar, tmp_path / "web", [take])
    expected, _ = avatar.params(take)  # [T]
    text = take.read_text()
    with served(tmp_path / "web") as url:
        page = open_player(chromium, url)
        assert page.evaluate("window.avatarPlayer.sequences.map(s => [s.name, s.frames])") == [["take", 20]]
        page.evaluate("([text]) => { window.avatarPlayer.loadLiveLink(text, 'dropped.csv'); }", [text])
        for t in (0, 7, 19):
            for sequence in (0, 1):
                got = _page_params(page, sequence, t)
                for key, values in params_json(expected, t).items():
                    np.testing.assert_allclose(got[key], values, atol=2e-5, err_msg=f"{key} of frame {t}")
        camera = camera_path(avatar.rig, "front", SIZE, 1)(0)
        params = expected.frame(7)
        image, _ = render_in_page(page, _page_params(page, 1, 7), camera)
        assert psnr_uint8(image, to_uint8(avatar.renderer.render(params, camera).rgb)) >= MIN_PSNR
        page.close()


@pytest.mark.parametrize(
    "problem, message",
    [
        ("missing", "missing column 'JawOpen'"),
        ("bad_cell", "row 4, column 'MouthSmileLeft': not a finite number"),
        ("short_row", "row 3, column"),
    ],
)
def test_a_bad_csv_dropped_on_the_page_is_one_clear_error(
    chromium, demo_model, tmp_path, problem, message, cpu_extension
):
    avatar = load_avatar(demo_model, backend="cpu")
    export_web(avatar, tmp_path / "web")
    take = tmp_path / "take.csv"
    _write_livelink(take, frames=6)
    lines = take.read_text().splitlines()
    if problem == "missing":
        header = lines[0].split(",")
        column = header.index("JawOpen")
        lines = [",".join(f for i, f in enumerate(line.split(",")) if i != column) for line in lines]
    elif problem == "bad_cell":
        cells = lines[3].split(",")
        cells[lines[0].split(",").index("MouthSmileLeft")] = "abc"
        lines[3] = ",".join(cells)
    else:
        lines[2] = ",".join(lines[2].split(",")[:30])
    with served(tmp_path / "web") as url:
        page = open_player(chromium, url)
        error = page.evaluate(
            """([text]) => { try { window.avatarPlayer.loadLiveLink(text, 'bad.csv'); return null; }
                                               catch (e) { return e.message; } }""",
            ["\n".join(lines) + "\n"],
        )
        assert error is not None and error.startswith("bad.csv") and message in error, error
        assert page.evaluate("window.avatarPlayer.sequences.length") == 0  # nothing half-loaded
        page.close()


@contextlib.contextmanager
def _streamed_page(chromium, avatar, folder: Path, query: str):
    """The exported avatar's page (query + the stream's ?ws=) following viewer.param_server (what
    `avatar view --serve` runs); yields (page, show): show(i, params) publishes frame i's params,
    waits for the page to take them and returns the params it shows."""
    pytest.importorskip("websockets")
    from viewer.param_server import ParamServer, hello_message

    export_web(avatar, folder)
    server = ParamServer(0, hello_message(avatar.rig, avatar.identity(), 30.0), host="127.0.0.1")
    server.start()

    def show(i: int, params) -> dict:
        server.publish(params)
        page.wait_for_function(f"window.avatarPlayer.stream && window.avatarPlayer.stream.frames > {i}", timeout=30_000)
        return page.evaluate("window.avatarPlayer.currentParams()")

    try:
        with served(folder) as url:
            page = open_player(chromium, url, f"{query}&ws=ws://127.0.0.1:{server.port}")
            yield page, show
            page.close()
    finally:
        server.stop()


def test_a_parameter_stream_drives_the_page(chromium, demo_model, tmp_path, cpu_extension):
    """viewer.param_server (what `avatar view --serve` runs): the page subscribes, takes the newest
    frame's params and draws them as the engine does."""
    avatar = load_avatar(demo_model, backend="cpu")
    with _streamed_page(chromium, avatar, tmp_path / "web", "manual=1") as (page, show):
        for i, (params, camera) in enumerate(_shots(avatar, 3)):
            params, _ = avatar.params(params)
            got = show(i, params)
            for key, values in params_json(params).items():
                np.testing.assert_allclose(got[key], values, atol=1e-5)  # the stream rounds to 5 decimals
            image, _ = render_in_page(page, got, camera)
            assert psnr_uint8(image, to_uint8(avatar.renderer.render(params, camera).rgb)) >= MIN_PSNR


def test_a_transparent_page_follows_the_stream_with_only_the_avatar(chromium, demo_model, tmp_path, cpu_extension):
    """?bg=transparent (an OBS browser source following `avatar view --serve`): the stream drives
    the page, the canvas is transparent where the avatar is not (its corners, below the cut), and
    its premultiplied colour over the avatar's background is the engine's render."""
    avatar = load_avatar(demo_model, backend="cpu")
    background = np.array(avatar.background) * 255
    with _streamed_page(chromium, avatar, tmp_path / "web", "manual=1&bg=transparent") as (page, show):
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
        assert page.evaluate("getComputedStyle(document.getElementById('hud')).display") == "none"
        for i, (params, camera) in enumerate(_shots(avatar, 2)):
            params, _ = avatar.params(params)
            image, _ = render_in_page(page, show(i, params), camera, alpha=True)
            engine = avatar.renderer.render(params, camera)
            coverage = image[..., 3:].astype(np.float64)
            assert (image[:3, :3] == 0).all() and coverage.max() == 255
            assert np.abs(coverage[..., 0] - engine.alpha[..., 0].numpy() * 255).mean() < 2.0
            composited = np.clip(image[..., :3] + (255 - coverage) / 255 * background, 0, 255).round()
            assert psnr_uint8(composited.astype(np.uint8), to_uint8(engine.rgb)) >= MIN_PSNR


@pytest.mark.skipif(viewer_missing("websockets") is not None, reason=viewer_missing("websockets") or "")
def test_avatar_view_serve_drives_the_page_end_to_end(chromium, demo_model, tmp_path, cpu_extension):
    """`avatar view MODEL --source expr:TAKE --serve PORT` under Xvfb, the page opened before it
    listens (it keeps trying): the page follows the viewer's frames."""
    from avatar.data.expressions import save_expression_file

    avatar = load_avatar(demo_model, backend="cpu")
    export_web(avatar, tmp_path / "web")
    rig = avatar.rig
    frames_ = 60
    take = rig.zero_params(frames_)
    take.expr = torch.rand(frames_, rig.num_expr, generator=torch.Generator().manual_seed(0)) * 0.5
    take.jaw[:, 0] = torch.linspace(0, 0.2, frames_)
    take_path = tmp_path / "take.npz"
    save_expression_file(take_path, take, 30.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with served(tmp_path / "web") as url:
        page = open_player(chromium, url, f"manual=1&ws=ws://127.0.0.1:{port}")
        viewer = subprocess.Popen(
            xvfb_avatar(
                "view",
                str(demo_model),
                "--source",
                f"expr:{take_path}",
                "--device",
                "cpu",
                "--backend",
                "gl",
                "--size",
                "64",
                "--lod",
                "off",
                "--frames",
                "400",
                "--serve",
                str(port),
                "--serve-host",
                "127.0.0.1",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            page.wait_for_function(
                "window.avatarPlayer.stream && window.avatarPlayer.stream.frames >= 10", timeout=120_000
            )
            seen = []
            for _ in range(5):
                seen.append(page.evaluate("window.avatarPlayer.currentParams()"))
                time.sleep(0.2)
        finally:
            viewer.terminate()
            _, stderr = viewer.communicate(timeout=60)
        file_expr = take.expr.numpy()  # [T, E]
        for params in seen:
            assert np.abs(np.array(params["expr"])[None] - file_expr).max(1).min() < 1e-4, stderr[-1000:]
        assert len({tuple(p["expr"]) for p in seen}) >= 2  # it moves
        page.close()


# ---- the command ------------------------------------------------------------------------------------


def test_avatar_export_web_writes_a_whole_folder_or_nothing(demo_model, tmp_path, capsys):
    take = tmp_path / "take.csv"
    _write_livelink(take)
    out = tmp_path / "site"
    assert main(["export", str(demo_model), "--web", str(out), "--expr", str(take)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == [
        "avatar.webavatar",
        "index.html",
        "manifest.json",
        "player.js",
        "sequences",
    ]
    assert (
        manifest["sequences"][0]["frames"] == 20
        and (out / manifest["sequences"][0]["file"]).stat().st_size
        == 20 * (load_avatar(demo_model).rig.num_expr + 18) * 4
    )
    assert main(["export", str(demo_model), "--web", str(out)]) == 2  # never into an existing folder
    assert "already exists" in capsys.readouterr().err
    broken = tmp_path / "broken.csv"
    lines = take.read_text().splitlines()
    cells = lines[2].split(",")
    cells[lines[0].split(",").index("JawOpen")] = "abc"
    broken.write_text("\n".join(lines[:2] + [",".join(cells)] + lines[3:]) + "\n")
    assert main(["export", str(demo_model), "--web", str(tmp_path / "site2"), "--expr", str(broken)]) == 2
    assert "broken.csv" in capsys.readouterr().err
    assert not (tmp_path / "site2").exists() and not (tmp_path / "site2.partial").exists()
