"""Expression files: npz/json round trips, ARKit name mapping and Live Link Face CSVs."""

from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar.data.arkit import ARKIT_NAMES, arkit_to_ict, canonical_name, name_map
from avatar.data.errors import ExpressionFileError
from avatar.data.expressions import load_expression_file, save_expression_file
from avatar.data.livelink import (MAX_JAW_ANGLE, REQUIRED_COLUMNS, fps_from_timecodes,
                                  read_livelink_csv)
from avatar.rig.head_rig import HeadRig
from avatar.rig.params import RigParams

DATA = Path(os.environ.get("AVATAR_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CSV_FRAMES = {"livelink_happy.csv": 3046, "livelink_angry.csv": 1895}
# Like ICT-FaceKit: sided brow/cheek shapes, no tongue, an extra cheekRaiser.
ICT_NAMES = [arkit_to_ict(n) for n in ARKIT_NAMES
             if n not in ("browInnerUp", "cheekPuff", "tongueOut")] + [
    "browInnerUp_L", "browInnerUp_R", "cheekPuff_L", "cheekPuff_R", "cheekRaiser_L"]


def make_rig(expr_names: list[str] | None, name: str = "test", num_expr: int | None = None,
             num_shape: int = 4) -> HeadRig:
    """A 3-vertex rig: only the sizes and names matter to expression files."""
    e = len(expr_names) if expr_names is not None else num_expr
    v = 3
    return HeadRig(name=name, v_template=torch.zeros(v, 3), faces=torch.tensor([[0, 1, 2]]),
                   shapedirs=torch.zeros(v, 3, num_shape), exprdirs=torch.zeros(v, 3, e),
                   posedirs=torch.zeros(v, 3, 36), j_regressor=torch.full((5, v), 1 / v),
                   lbs_weights=torch.eye(5)[[0, 1, 2]], expr_names=expr_names)


def random_params(rig: HeadRig, frames: int) -> RigParams:
    g = torch.Generator().manual_seed(frames)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return RigParams(r(rig.num_shape), r(frames, rig.num_expr), r(frames, 3), r(frames, 3),
                     r(frames, 3), r(frames, 6), r(frames, 3))


# ---- .npz / .json ---------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_round_trip(tmp_path, suffix):
    rig = make_rig(["a", "b", "c"])
    params = random_params(rig, 6)
    path = tmp_path / f"expr{suffix}"
    save_expression_file(path, params, 29.97, expr_names=rig.expr_names)
    loaded, fps = load_expression_file(path, rig)
    assert fps == 29.97 and path.is_file() and not (tmp_path / f"expr{suffix}.partial").exists()
    for k in ("shape", "expr", "jaw", "neck", "rotation", "eyes", "translation"):
        assert torch.equal(getattr(loaded, k), getattr(params, k)), k


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_names_map_by_name_and_position_otherwise(tmp_path, suffix):
    rig = make_rig(["jawOpen", "eyeBlink_L", "eyeBlink_R", "mouthSmile"])
    params = RigParams.from_numpy({"expr": np.array([[1.0, 2.0, 3.0, 4.0]])})
    path = tmp_path / f"named{suffix}"
    file_names = ["eyeBlinkRight", "unknownShape", "jawOpen", "mouthSmileLeft"]
    save_expression_file(path, params, 30, expr_names=file_names)
    with pytest.warns(UserWarning, match="unknownShape"):
        by_name, _ = load_expression_file(path, rig)
    # jawOpen <- column 2; eyeBlink_R <- eyeBlinkRight; mouthSmile <- mean(mouthSmileLeft, absent 0)
    assert by_name.expr.tolist() == [[3.0, 0.0, 1.0, 0.0]]
    save_expression_file(path, params, 30)
    short_rig = make_rig(["x", "y"], num_shape=2)
    by_position, _ = load_expression_file(path, short_rig)
    assert by_position.expr.tolist() == [[1.0, 2.0]] and by_position.shape.shape == (2,)
    wide_rig = make_rig(None, num_expr=6)
    assert load_expression_file(path, wide_rig)[0].expr.tolist() == [[1.0, 2.0, 3.0, 4.0, 0, 0]]


def test_bad_npz_and_json_files(tmp_path):
    rig = make_rig(["a"])
    np.savez(tmp_path / "nofps.npz", expr=np.zeros((2, 1)))
    (tmp_path / "nan.json").write_text('{"fps": 30, "expr": [[NaN]]}')
    (tmp_path / "ragged.json").write_text('{"fps": 30, "expr": [[1], [1, 2]]}')
    (tmp_path / "jaw.json").write_text('{"fps": 30, "expr": [[1]], "jaw": [[1, 2]]}')
    (tmp_path / "broken.json").write_text('{"fps": 30, ')
    (tmp_path / "names.json").write_text('{"fps": 30, "expr": [[1, 2]], "expr_names": [null, []]}')  # a fuzz find
    (tmp_path / "x.txt").write_text("")
    np.savez(tmp_path / "whole.npz", fps=30.0, expr=np.zeros((200, 1)))
    whole = (tmp_path / "whole.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    cases = {"truncated.npz": "not an .npz archive", "nofps.npz": "missing 'fps'", "nan.json": "'expr' holds non-finite",
             "ragged.json": "'expr' is not a numeric array", "jaw.json": "'jaw' must have shape",
             "broken.json": "not a readable JSON", "x.txt": "unknown expression file type",
             "names.json": "'expr_names' must be a list of expression names",
             "absent.npz": "file not found"}
    for name, message in cases.items():
        with pytest.raises(ExpressionFileError, match=message) as info:
            load_expression_file(tmp_path / name, rig)
        assert name in str(info.value)
    with pytest.raises(ExpressionFileError, match="fps must be a positive"):
        save_expression_file(tmp_path / "a.npz", random_params(rig, 2), 0.0)


def test_hostile_npz_and_json_files_are_refused_before_allocating(tmp_path):
    import zipfile

    rig = make_rig(["a"])
    np.save(tmp_path / "plain.npy", np.zeros((2, 1)))
    os.replace(tmp_path / "plain.npy", tmp_path / "plain.npz")
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("expr.npy", "w", force_zip64=True) as f:  # 1.2 GiB of zeros in about 1 MB
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (300 << 20, 1)})
            for _ in range(75):
                f.write(bytes(16 << 20))
    with zipfile.ZipFile(tmp_path / "lying.npz", "w") as z:
        with z.open("expr.npy", "w") as f:  # a header that declares 373 GiB over 80 bytes
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (50 << 30, 1)})
            f.write(bytes(80))
    np.savez(tmp_path / "objects.npz", fps=30.0, expr=np.array([[None]], dtype=object))
    np.savez(tmp_path / "fast.npz", fps=1e300, expr=np.zeros((2, 1)))
    np.savez(tmp_path / "slow.npz", fps=1e-9, expr=np.zeros((2, 1)))
    np.savez(tmp_path / "huge.npz", fps=30.0, expr=np.full((2, 1), 1e30))
    np.savez(tmp_path / "empty.npz", fps=30.0, expr=np.zeros((0, 1)))
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    cases = {"plain.npz": "not an .npz archive", "bomb.npz": "MiB uncompressed",
             "lying.npz": "declares .* more than the", "objects.npz": "object arrays",
             "fast.npz": r"'fps' must be in \[0.1, 1000", "slow.npz": r"'fps' must be in", "huge.npz": "beyond 10000",
             "empty.npz": "0 frames", "deep.json": "nested too deeply"}
    for name, message in cases.items():
        with pytest.raises(ExpressionFileError, match=message) as info:
            load_expression_file(tmp_path / name, rig)
        assert name in str(info.value)


def test_a_csv_value_beyond_float32_is_refused_with_its_cell(tmp_path, csv_template):
    header, data = csv_template
    rows = [list(r) for r in data]
    rows[1][header.index("HeadYaw")] = "1e39"
    path = write_rows(tmp_path / "overflow.csv", [header, *rows])
    with pytest.raises(ExpressionFileError, match="row 3, column 'HeadYaw': not a finite number within") as info:
        load_expression_file(path, make_rig(ICT_NAMES))
    assert (info.value.row, info.value.column) == (3, "HeadYaw")


def test_an_arkit_map_that_is_not_an_npz_is_one_clear_error(tmp_path):
    from avatar.data.livelink import load_arkit_map

    np.save(tmp_path / "map.npy", np.zeros((3, 52)))
    os.replace(tmp_path / "map.npy", tmp_path / "map.npz")
    with pytest.raises(ExpressionFileError, match="map.npz: not an .npz archive"):
        load_arkit_map(tmp_path / "map.npz", make_rig(None, num_expr=3))


# ---- ARKit names ----------------------------------------------------------------------------

def test_name_spellings_and_directional_names():
    assert canonical_name("EyeBlinkLeft") == canonical_name("eyeBlinkLeft") == "eyeBlink_L"
    assert canonical_name("mouthSmile_R") == "mouthSmile_R"
    assert canonical_name("MouthLeft") == "mouthLeft" and canonical_name("jawRight") == "jawRight"
    assert canonical_name("BrowInnerUp") == "browInnerUp"
    assert len(set(ARKIT_NAMES)) == 52


def test_name_map_split_merge_and_unmatched():
    source = ["browInnerUp", "mouthSmileLeft", "mouthSmileRight", "jawLeft", "tongueOut"]
    target = ["browInnerUp_L", "browInnerUp_R", "mouthSmile", "jawLeft", "cheekRaiser_L"]
    m = name_map(source, target)
    weights = np.array([0.2, 0.4, 0.8, 0.3, 0.9])
    np.testing.assert_allclose(m.matrix @ weights, [0.2, 0.2, 0.6, 0.3, 0.0], rtol=1e-6)
    assert m.unmatched_source == ["tongueOut"] and m.unmatched_target == ["cheekRaiser_L"]


# ---- Live Link Face CSV ---------------------------------------------------------------------

def real_csv(name: str) -> Path:
    path = DATA / "expressions" / name
    if not path.is_file():
        pytest.skip(f"test material {path} is absent")
    return path


def csv_columns(path: Path) -> dict[str, np.ndarray]:
    """Independent reader: every column as float (Timecode kept as text)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: (np.array([r[k] for r in rows]) if k == "Timecode"
                else np.array([float(r[k]) for r in rows])) for k in rows[0]}


@pytest.mark.parametrize("name", sorted(CSV_FRAMES))
def test_real_livelink_csv(name):
    path = real_csv(name)
    columns = csv_columns(path)
    rig = make_rig(ICT_NAMES, name="ict")
    with pytest.warns(UserWarning, match="tongueOut.*cheekRaiser_L"):
        params, fps = load_expression_file(path, rig)
    assert params.num_frames == CSV_FRAMES[name] and params.expr.shape[1] == len(ICT_NAMES)
    assert 55.0 < fps < 65.0
    jaw_open = params.expr[:, ICT_NAMES.index("jawOpen")].numpy()
    assert np.corrcoef(jaw_open, columns["JawOpen"])[0, 1] > 0.999
    np.testing.assert_allclose(params.expr[:, ICT_NAMES.index("browInnerUp_R")],
                               columns["BrowInnerUp"], atol=1e-6)
    assert torch.all(params.jaw == 0)  # the rig's own jawOpen shape opens the mouth
    # ARKit semantics: EyeLookDown is a downward gaze (-y); EyeLookInLeft / EyeLookOutRight a
    # gaze toward the subject's right (-x). The eye rotations must agree (the happy recording
    # has little sideways gaze, hence the looser bound there).
    for eye, side, toward_right in ((slice(0, 3), "Left", "In"), (slice(3, 6), "Right", "Out")):
        gaze = rotate_z_axis(params.eyes[:, eye].double().numpy())  # [T, 3]
        down = columns[f"EyeLookDown{side}"] - columns[f"EyeLookUp{side}"]
        away = columns[f"EyeLook{toward_right}{side}"]
        away = away - columns[f"EyeLook{'Out' if toward_right == 'In' else 'In'}{side}"]
        assert np.corrcoef(gaze[:, 1], down)[0, 1] < -0.9
        assert np.corrcoef(gaze[:, 0], away)[0, 1] < -0.5


def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """[T, 3] axis-angle -> [T, 3, 3] rotation matrices."""
    out = []
    for r in rotvec:
        theta = np.linalg.norm(r)
        k = r / theta if theta > 0 else np.zeros(3)
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        out.append(np.eye(3) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx)
    return np.stack(out)


def rotate_z_axis(rotvec: np.ndarray) -> np.ndarray:
    return rodrigues(rotvec)[:, :, 2]  # [T, 3]: where the +z (looking) axis points


def write_csv(path: Path, rows: list[dict[str, float]], timecodes: list[str] | None = None):
    """A Live Link style file with the given columns set (all others 0)."""
    header = ["Timecode", "BlendshapeCount", *REQUIRED_COLUMNS]
    timecodes = timecodes or [f"10:00:00:{i:02d}.000" for i in range(len(rows))]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for tc, row in zip(timecodes, rows):
            w.writerow([tc, 61, *(row.get(c, 0.0) for c in REQUIRED_COLUMNS)])


def test_csv_rotations_and_jaw(tmp_path):
    yaw, pitch, roll = 0.3, -0.2, 0.1
    path = tmp_path / "pose.csv"
    write_csv(path, [{"HeadYaw": yaw, "HeadPitch": pitch, "HeadRoll": roll, "JawOpen": 0.5,
                      "RightEyePitch": 0.25}, {"HeadYaw": yaw}])
    rx = lambda a: rodrigues(np.array([[a, 0, 0]]))[0]  # noqa: E731
    ry = lambda a: rodrigues(np.array([[0, a, 0]]))[0]  # noqa: E731
    rz = lambda a: rodrigues(np.array([[0, 0, a]]))[0]  # noqa: E731
    flame_like = make_rig(None, name="flame2023", num_expr=3)
    map_path = tmp_path / "map.npz"
    matrix = np.arange(3 * 52, dtype=np.float32).reshape(3, 52) / 100
    order = np.random.default_rng(1).permutation(52)
    np.savez(map_path, matrix=matrix[:, order], names=np.array(ARKIT_NAMES)[order])
    params, _ = load_expression_file(path, flame_like, arkit_map=map_path)
    # The head's rotation is root then neck (shared with a slow torso: avatar.rig.torso.SlowTorso).
    head = rodrigues(params.rotation.double().numpy()) @ rodrigues(params.neck.double().numpy())  # [2, 3, 3]
    np.testing.assert_allclose(head[0], ry(-yaw) @ rx(pitch) @ rz(-roll), atol=1e-6)
    np.testing.assert_allclose(head[1], ry(-yaw), atol=1e-6)
    np.testing.assert_allclose(params.eyes[0], [0, 0, 0, 0.25, 0, 0], atol=1e-6)
    np.testing.assert_allclose(params.jaw[:, 0], [0.5 * MAX_JAW_ANGLE, 0], atol=1e-7)
    arkit = np.zeros(52, np.float32)
    arkit[ARKIT_NAMES.index("jawOpen")] = 0.5
    np.testing.assert_allclose(params.expr[0], matrix @ arkit, rtol=1e-6)
    assert torch.all(params.shape == 0) and params.shape.shape == (4,)

    with pytest.raises(ExpressionFileError, match="--arkit-map"):
        load_expression_file(path, flame_like)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unmatched names are not the point here
        builtin = load_expression_file(path, make_rig(["jawOpen"], name="builtin"))[0]
        ict = load_expression_file(path, make_rig(["jawOpen"], name="ict"))[0]
        forced = load_expression_file(path, make_rig(["jawOpen"], name="ict"),
                                      jaw_from_jawopen=True)[0]
    assert builtin.jaw[0, 0] == forced.jaw[0, 0] == pytest.approx(0.5 * MAX_JAW_ANGLE)
    assert ict.jaw[0, 0] == 0 and ict.expr[0, 0] == pytest.approx(0.5)


def test_fps_from_timecodes():
    at = lambda rate, n, start=0: [  # noqa: E731
        f"23:59:{(start + i) // rate:02d}:{(start + i) % rate:02d}.000" for i in range(n)]
    assert fps_from_timecodes(at(30, 75)) == pytest.approx(30.0)
    assert fps_from_timecodes(at(60, 150, start=30)) == pytest.approx(60.0)
    assert fps_from_timecodes(at(60, 10)) == pytest.approx(60.0)  # no rollover: rate assumed 60
    wrapped = ["23:59:59:58.000", "23:59:59:59.000", "00:00:00:00.000", "00:00:00:01.000"]
    assert fps_from_timecodes(wrapped) == pytest.approx(60.0)
    assert fps_from_timecodes(["x", "y"]) is None


def test_unreadable_timecodes_fall_back_to_60(tmp_path):
    path = tmp_path / "tc.csv"
    write_csv(path, [{}, {}, {}], timecodes=["a", "b", "c"])
    with pytest.warns(UserWarning, match="assuming 60 fps"):
        assert read_livelink_csv(path).fps == 60.0


@pytest.fixture
def csv_template() -> tuple[list[str], list[list[str]]]:
    """Header and first data rows of a real recording (a synthesized one when absent)."""
    path = DATA / "expressions" / "livelink_happy.csv"
    if path.is_file():
        with open(path, newline="") as f:
            rows = [r for _, r in zip(range(8), csv.reader(f))]
        return rows[0], rows[1:]
    header = ["Timecode", "BlendshapeCount", *REQUIRED_COLUMNS]
    return header, [[f"10:00:00:{i:02d}.000", "61", *["0.1"] * 61] for i in range(7)]


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_bad_csvs(tmp_path, csv_template):
    header, data = csv_template
    rig = make_rig(ICT_NAMES)
    drop = header.index("JawOpen")
    missing = write_rows(tmp_path / "missing.csv",
                         [[c for i, c in enumerate(r) if i != drop] for r in [header, *data]])
    bad_cell = [list(r) for r in data]
    bad_cell[3][header.index("MouthSmileLeft")] = "abc"  # file row 5: header is row 1
    not_number = write_rows(tmp_path / "nan.csv", [header, *bad_cell])
    short = write_rows(tmp_path / "short.csv", [header, data[0]])
    cases = [(missing, "missing column 'JawOpen'", None, "JawOpen"),
             (not_number, "row 5, column 'MouthSmileLeft': not a finite number within ±10000: 'abc'", 5,
              "MouthSmileLeft"),
             (short, "too few rows", None, None)]
    for path, message, row, column in cases:
        with pytest.raises(ExpressionFileError, match=message) as info:
            load_expression_file(path, rig)
        assert str(path) in str(info.value)
        assert (info.value.row, info.value.column) == (row, column)
    ok = write_rows(tmp_path / "ok.csv", [header, *data])
    with pytest.warns(UserWarning):
        assert load_expression_file(ok, rig)[0].num_frames == len(data)
