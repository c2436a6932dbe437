"""Calibration files (`capture.calibration`): OpenCV FileStorage YAML/JSON, NeRSemble camera_params.json
and COLMAP text models read back the cameras written into them, in the documented view order, and
every broken or mutated file is refused with a CalibrationError naming it, never another exception."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_fuzz_readers import _fuzz_mutations

from avatar.data.errors import CalibrationError
from capture.calibration import ViewCalibration, load_calibration

ROTATIONS = Rotation.from_rotvec([[0.1, -0.3, 0.2], [0.0, 0.8, -0.1], [-0.4, 0.1, 0.05]]).as_matrix()  # [3, 3, 3]
TRANSLATIONS = np.array([[0.1, -0.2, 1.5], [-0.3, 0.0, 1.2], [0.25, 0.1, 0.9]])  # [3, 3]
KS = np.array(
    [
        [[900.0, 0.0, 320.0], [0.0, 905.0, 241.0], [0.0, 0.0, 1.0]],
        [[1200.0, 0.5, 639.5], [0.0, 1190.0, 359.5], [0.0, 0.0, 1.0]],
        [[700.0, 0.0, 300.0], [0.0, 700.0, 200.0], [0.0, 0.0, 1.0]],
    ]
)  # [3, 3, 3]
DISTORTIONS = np.array([[0.1, -0.05, 0.001, -0.002, 0.01], [0.0] * 5, [-0.2, 0.03, 0.0, 0.0, 0.0]])  # [3, 5]


def _opencv(path: Path, overrides: dict | None = None) -> Path:
    """The three cameras written by OpenCV itself (camera 1 with the alternative key spellings and a
    Rodrigues rotation); overrides replace (None: drop) keys."""
    cv2 = pytest.importorskip("cv2")
    nodes: dict = {"num_cameras": 3}
    for i in range(3):
        k_key, d_key = ("camera_matrix_1", "distortion_coefficients_1") if i == 1 else (f"K_{i}", f"dist_{i}")
        nodes.update(
            {
                k_key: KS[i],
                d_key: DISTORTIONS[i][None] if i else DISTORTIONS[i][:, None],
                f"R_{i}": cv2.Rodrigues(ROTATIONS[i])[0] if i == 1 else ROTATIONS[i],
                f"t_{i}": TRANSLATIONS[i][:, None],
                f"image_width_{i}": 640 + i,
                f"image_height_{i}": 480,
            }
        )
    nodes.update(overrides or {})
    json_form = cv2.FILE_STORAGE_FORMAT_JSON if path.suffix == ".json" else 0
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE | json_form)
    for key, value in nodes.items():
        if value is not None:
            storage.write(key, value)
    storage.release()
    return path


def _nersemble(path: Path, edit=None) -> Path:
    data = {"world_2_cam": {}, "intrinsics": KS[0].tolist(), "note": "ignored"}
    for serial, i in (("222200049", 2), ("220700191", 0), ("221501007", 1)):  # listed unsorted
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = ROTATIONS[i], TRANSLATIONS[i]
        data["world_2_cam"][serial] = pose.tolist()
    if edit:
        edit(data)
    path.write_text(json.dumps(data))
    return path


CAMERAS_TXT = """# Camera list with one line of data per camera:
#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]
3 OPENCV 700 500 700 700 300 200 -0.2 0.03 0 0
1 PINHOLE 640 480 900 905 320 241
2 SIMPLE_RADIAL 1280 720 1200 639.5 359.5 0
"""


def _colmap(folder: Path) -> Path:
    """Images named so that sorting puts camera i at view i, listed out of order."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cameras.txt").write_text(CAMERAS_TXT)
    lines = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
    ]
    for image, i in ((7, 2), (3, 0), (5, 1)):
        x, y, z, w = Rotation.from_matrix(ROTATIONS[i]).as_quat()
        numbers = " ".join(repr(float(v)) for v in (w, x, y, z, *TRANSLATIONS[i]))  # numpy 2 reprs np.float64(...)
        lines += [f"{image} {numbers} {(1, 2, 3)[i]} cam_{i}.png", "" if i else "10.5 20.25 -1 30 40 17"]
    (folder / "images.txt").write_text("\n".join(lines) + "\n")
    return folder


def _same(views: list[ViewCalibration], ks=KS, distortions=DISTORTIONS, shift=0.0) -> None:
    assert len(views) == 3
    for i, view in enumerate(views):
        K = ks[i].copy()
        K[:2, 2] += shift
        np.testing.assert_allclose(view.K, K, atol=1e-9)
        np.testing.assert_allclose(view.world_to_cam[:3, :3], ROTATIONS[i], atol=1e-9)
        np.testing.assert_allclose(view.world_to_cam[:3, 3], TRANSLATIONS[i], atol=1e-9)
        np.testing.assert_allclose(view.distortion[: len(distortions[i])], distortions[i], atol=1e-12)
        np.testing.assert_array_equal(view.world_to_cam[3], [0, 0, 0, 1])


@pytest.mark.parametrize("name", ["rig.yml", "rig.json"])
def test_opencv_round_trip(tmp_path, name):
    views = load_calibration(_opencv(tmp_path / name), 3)
    _same(views, shift=0.5)  # OpenCV's pixel centres at integers, the engine's at +0.5
    assert [v.name for v in views] == ["0", "1", "2"] and (views[2].width, views[2].height) == (642, 480)


def test_nersemble_round_trip_in_sorted_serial_order(tmp_path):
    views = load_calibration(_nersemble(tmp_path / "camera_params.json"), 3)
    _same(views, ks=KS[[0, 0, 0]], distortions=np.zeros((3, 5)))
    assert [v.name for v in views] == ["220700191", "221501007", "222200049"]
    assert views[0].width is None and views[0].height is None


@pytest.mark.parametrize("part", ["", "cameras.txt", "images.txt"])
def test_colmap_round_trip_in_sorted_name_order(tmp_path, part):
    folder = _colmap(tmp_path / "sparse")
    views = load_calibration(folder / part, 3)
    colmap_k = KS.copy()
    colmap_k[1, 0, 1], colmap_k[1, 1, 1] = 0.0, 1200.0  # SIMPLE_RADIAL: no skew, one focal length
    _same(views, ks=colmap_k, distortions=np.array([[0.0] * 4, [0.0] * 4, [-0.2, 0.03, 0.0, 0.0]]))
    assert [v.name for v in views] == ["cam_0.png", "cam_1.png", "cam_2.png"]
    assert [(v.width, v.height) for v in views] == [(640, 480), (1280, 720), (700, 500)]


def test_colmap_full_opencv_is_opencvs_rational_model(tmp_path):
    folder = _colmap(tmp_path / "sparse")
    cameras = (
        (folder / "cameras.txt")
        .read_text()
        .replace(
            "3 OPENCV 700 500 700 700 300 200 -0.2 0.03 0 0",
            "3 FULL_OPENCV 700 500 700 700 300 200 -0.2 0.03 0.001 0 0.01 0.1 0 0.02",
        )
    )
    (folder / "cameras.txt").write_text(cameras)
    views = load_calibration(folder, 3)
    np.testing.assert_array_equal(views[2].distortion, [-0.2, 0.03, 0.001, 0.0, 0.01, 0.1, 0.0, 0.02])


def test_camera_count_must_match_the_videos(tmp_path):
    with pytest.raises(CalibrationError, match=r"rig.yml: has 3 cameras, 2 videos were given"):
        load_calibration(_opencv(tmp_path / "rig.yml"), 2)


BAD_OPENCV = [
    ({"R_0": np.diag([1.0, 1.0, 2.0])}, "camera 0 (R_0): not a rotation"),
    ({"R_0": np.diag([1.0, 1.0, -1.0])}, "det -1"),
    ({"K_2": np.diag([-5.0, 700.0, 1.0])}, "camera 2 (K_2): focal lengths must be positive"),
    ({"K_0": KS[0] * 1e300}, "magnitude"),
    ({"t_1": np.zeros((4, 1))}, "camera 1 (t_1) must be 3x1 or 1x3"),
    ({"dist_0": np.zeros((2, 3))}, "1xk or kx1"),
    ({"dist_0": np.zeros((1, 6))}, "got 6"),
    ({"R_2": None}, "camera 2: missing key R_2"),
    ({"K_0": None}, "missing key K_0"),
    ({"K_2": np.eye(3), "camera_matrix_2": np.eye(3)}, "both K_2 and camera_matrix_2"),
    ({"num_cameras": 0}, "'num_cameras'"),
    ({"image_height_0": None}, "both image_width_0 and image_height_0"),
    ({"image_width_0": -3}, "image_width_0"),
    ({"t_0": "1 2 3"}, "(t_0) must be an opencv-matrix"),
]


@pytest.mark.parametrize("overrides, problem", BAD_OPENCV)
def test_broken_opencv_files_are_refused_by_name(tmp_path, overrides, problem):
    for name in ("rig.yml", "rig.json"):
        with pytest.raises(CalibrationError, match=name) as e:
            load_calibration(_opencv(tmp_path / name, overrides), 3)
        assert problem in str(e.value)


def _edit_nersemble(path: str, value):
    def edit(data):
        *parents, last = path.split("/")
        for key in parents:
            data = data[key]
        data.pop(last) if value is None else data.__setitem__(last, value)

    return edit


BAD_NERSEMBLE = [
    (_edit_nersemble("intrinsics", None), "'intrinsics' must be a 3x3 matrix of numbers, got None"),
    (_edit_nersemble("intrinsics", [[1, 0, 0], [0, 1, 0]]), "'intrinsics' must be a 3x3"),
    (_edit_nersemble("intrinsics", [[0, 0, 1], [0, 1, 1], [0, 0, 1]]), "focal lengths"),
    (_edit_nersemble("world_2_cam", []), "'world_2_cam' must be an object"),
    (
        _edit_nersemble("world_2_cam/221501007", np.diag([1, 1, 3, 1]).tolist()),
        "'221501007' (world_2_cam): not a rotation",
    ),
    (_edit_nersemble("world_2_cam/221501007", np.diag([1, 1, 1, 2]).tolist()), "last row"),
    (_edit_nersemble("world_2_cam/221501007", [["1"] * 4] * 4), "4x4 matrix of numbers, got a list"),
    (_edit_nersemble("world_2_cam/221501007", [[True] * 4] * 4), "4x4 matrix of numbers"),
]


@pytest.mark.parametrize("edit, problem", BAD_NERSEMBLE)
def test_broken_nersemble_files_are_refused_by_name(tmp_path, edit, problem):
    with pytest.raises(CalibrationError, match="camera_params.json") as e:
        load_calibration(_nersemble(tmp_path / "camera_params.json", edit), 3)
    assert problem in str(e.value)


BAD_COLMAP = [
    ("cameras.txt", "3 OPENCV 700", "3 OPENCV_FISHEYE 700", "camera model 'OPENCV_FISHEYE' is not read"),
    ("cameras.txt", " 905 320 241", " 905 320", "a PINHOLE camera has 4 parameters, got 3"),
    ("cameras.txt", "1 PINHOLE 640", "1 PINHOLE 0", "line 4: WIDTH must be an integer in [1, 65536]"),
    ("cameras.txt", "1 PINHOLE", "one PINHOLE", "CAMERA_ID must be an integer"),
    ("cameras.txt", "2 SIMPLE_RADIAL", "1 SIMPLE_RADIAL", "camera 1 is listed twice"),
    ("cameras.txt", "1200 639", "-1200 639", "focal lengths must be positive"),
    ("images.txt", " 1 cam_0", " 9 cam_0", "has camera 9, which cameras.txt does not list"),
    ("images.txt", "cam_1", "cam_2", "image 'cam_2.png' is listed twice"),
    ("images.txt", "cam_2.png\n\n", "cam_2.png\n", "expected the 2-D points of the image on line 3"),
    ("images.txt", r"\n3 \S+", "\n3 2.0", "(image 'cam_0.png'): the quaternion has length"),
    ("images.txt", " cam_2.png", "", "line 3: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME"),
    ("images.txt", r"\n5 (\S+ \S+ \S+ \S+) \S+", r"\n5 \1 nan", "line 7: QW QX QY QZ TX TY TZ must hold finite"),
]


@pytest.mark.parametrize("name, pattern, replacement, problem", BAD_COLMAP)
def test_broken_colmap_models_are_refused_by_name(tmp_path, name, pattern, replacement, problem):
    path = _colmap(tmp_path / "sparse") / name
    text, edits = re.subn(pattern, replacement, path.read_text(), count=1)
    assert edits == 1
    path.write_text(text)
    with pytest.raises(CalibrationError, match=name) as e:
        load_calibration(path.parent, 3)
    assert problem in str(e.value)


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("rig.yml", b"%YAML:1.0\n---\na: " + b"[" * 5000, "nested too deeply"),
        ("rig.json", b'{"a": ' + b"[" * 100000, "nested too deeply"),
        ("rig.yml", b"%YAML:1.0\n---\nnum_cameras: " + b"9" * 5000 + b"\n", "not YAML"),
        ("rig.yml", b"%YAML:1.0\n---\nK_0: !!python/object:os.system {}\n", "not YAML"),
        ("rig.yml", b"%YAML:1.0\n---\nK_0: [1, 2\n", "not YAML"),
        (
            "rig.yml",
            b"K_0: !!opencv-matrix {rows: 3, cols: 3, dt: d, data: [.NaN, 0, 1, 0, 1, 1, 0, 0, 1]}",
            "camera 0 (K_0): 'data' must hold finite numbers",
        ),
        ("rig.yml", b"", "holds no calibration"),
        ("rig.yml", b"K_0: \xff\xfe\n", "not UTF-8"),
        ("rig.yml", b"\x00\x01\x02", "binary"),
        ("rig.json", b"[1, 2]", "expected a map"),
        ("rig.json", b'{"num_cameras": 1' + b"0" * 30 + b"}", "'num_cameras' must be an integer"),
        ("rig.json", b'{"world_2_cam": {"1": 1e999}, "intrinsics": 0}', "'intrinsics'"),
        ("rig.xml", b"<opencv_storage/>", "OpenCV XML is not read"),
        ("rig.dat", b"hello", "not a calibration file this reader knows"),
    ],
)
def test_hostile_files_are_refused_by_name(tmp_path, name, content, problem):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(CalibrationError, match=name) as e:
        load_calibration(tmp_path / name, 1)
    assert problem in str(e.value)


def test_missing_huge_and_binary_models_are_refused(tmp_path):
    with pytest.raises(CalibrationError, match="calibration file not found"):
        load_calibration(tmp_path / "absent.yml", 1)
    with open(tmp_path / "huge.yml", "wb") as f:
        f.truncate(17 << 20)  # sparse: refused by its size before a byte is read
    with pytest.raises(CalibrationError, match="huge.yml: is 17.0 MB, larger than the 16 MB"):
        load_calibration(tmp_path / "huge.yml", 1)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "cameras.bin").write_bytes(b"\0")
    with pytest.raises(CalibrationError, match="a binary COLMAP model: convert it with `colmap model_converter"):
        load_calibration(tmp_path / "bin", 1)
    with pytest.raises(CalibrationError, match="cameras.txt and images.txt are not both there"):
        load_calibration(tmp_path, 1)


def _strictly(read):
    """`read` whose every refusal is a CalibrationError and whose every camera is valid."""

    def run(path: Path) -> None:
        try:
            views = read(path)
        except ValueError as e:
            assert isinstance(e, CalibrationError), repr(e)
            raise
        for view in views:
            R = view.world_to_cam[:3, :3]
            assert view.K.shape == (3, 3) and view.K[0, 0] > 0 and view.K[1, 1] > 0 and np.isfinite(view.K).all()
            assert np.allclose(R @ R.T, np.eye(3), atol=1e-9) and np.linalg.det(R) > 0
            assert np.isfinite(view.world_to_cam).all() and np.isfinite(view.distortion).all()

    return run


@pytest.mark.parametrize("name", ["rig.yml", "rig.json", "camera_params.json", "cameras.txt", "images.txt"])
def test_mutated_files_load_valid_cameras_or_are_refused(tmp_path, name):
    source, work = tmp_path / "source", tmp_path / "work"
    if name.endswith(".txt"):
        _colmap(source)
        shutil.copytree(source, work)
        read = _strictly(lambda path: load_calibration(path.parent, 3))
    else:
        source.mkdir()
        work.mkdir()
        (_nersemble if name == "camera_params.json" else _opencv)(source / name)
        read = _strictly(lambda path: load_calibration(path, 3))
    _fuzz_mutations(source / name, work / name, read)
