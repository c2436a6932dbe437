"""Importers: source trees in each tool's own layout -> capture directories.

Every camera check projects known rig-space points with the imported OpenCV camera and compares
with the pixel the source tool's own convention gives, written out here independently: VHAP's
OpenGL clip-space projection with its y flip, PyTorch3D's NDC-to-screen mapping, IMavatar's
normalised intrinsics on a 4x-scaled, -z-looking camera.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

from avatar.data.errors import CaptureError
from avatar.training.config import choose_preset
from capture.importers import IMPORTERS, ImportSourceError, import_capture

W, H = 32, 24
RNG = np.random.default_rng(11)
POINTS = np.array([[0.0, 0.0, 0.0], [0.03, 0.05, 0.04], [-0.06, -0.04, 0.02]])  # metres


def save_png(path, pixels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def rgb() -> np.ndarray:
    return RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)


def gray() -> np.ndarray:
    return rgb()[..., 0]


def small(*shape) -> np.ndarray:  # parameter values of a plausible size
    return RNG.normal(0.0, 0.1, shape)


def ours(capture, frame: int, point: np.ndarray) -> np.ndarray:
    cam = capture.camera(frame)
    K, w2c = cam.K.double().numpy(), cam.world_to_cam.double().numpy()
    x = K @ (w2c[:3, :3] @ point + w2c[:3, 3])
    return x[:2] / x[2]


def as_uint8(image: torch.Tensor) -> np.ndarray:
    return (image * 255).round().to(torch.uint8).numpy()


def expect_error(kind, src, out, match, path) -> None:
    """One ImportSourceError naming `path`, and no capture (finished or .partial) at `out`."""
    with pytest.raises(ImportSourceError, match=match) as e:
        import_capture(kind, src, out, progress=False)
    assert e.value.path == path
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()


# ---------------------------------------------------------------- VHAP / GaussianAvatars

def opengl_look_at(eye) -> np.ndarray:
    """camera-to-world [4, 4], OpenGL axes (x right, y up, z backward), looking at the origin."""
    z = np.asarray(eye, float) / np.linalg.norm(eye)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    c2w = np.eye(4)
    c2w[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    c2w[:3, 3] = eye
    return c2w


def vhap_pixel(frame: dict, point: np.ndarray) -> np.ndarray:
    """VHAP's own projection of its export: OpenGL projection from (fl, c), y flipped to rows."""
    fx, fy, cx, cy, w, h = (frame[k] for k in ("fl_x", "fl_y", "cx", "cy", "w", "h"))
    near, far = 0.1, 10.0
    proj = np.array([[2 * fx / w, 0, (w - 2 * cx) / w, 0], [0, 2 * fy / h, (h - 2 * cy) / h, 0],
                     [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
                     [0, 0, -1, 0]])
    clip = proj @ np.linalg.inv(np.array(frame["transform_matrix"])) @ np.append(point, 1.0)
    ndc = clip[:3] / clip[3]
    return np.array([(ndc[0] * 0.5 + 0.5) * w, (-ndc[1] * 0.5 + 0.5) * h])


def vhap_tree(root, num_times=4, cameras=((0.15, 0.05, 0.9), (-0.3, 0.1, 0.8)),
              rgba=False, shared_intrinsics=False, splits=True) -> dict:
    """A VHAP export; cy is written as h - cy, as VHAP's opencv->opengl conversion leaves it.

    rgba: masks as the images' alpha instead of fg_masks/; shared_intrinsics: only top level.
    """
    flame = {"shape": small(300), "expr": small(num_times, 100), "rotation": small(num_times, 3),
             "neck_pose": small(num_times, 3), "jaw_pose": small(num_times, 3),
             "eyes_pose": small(num_times, 6), "translation": small(num_times, 3)}
    frames, images, alphas = [], {}, {}
    (root / "flame_param").mkdir(parents=True)
    for t in range(num_times):
        step = {k: v if k == "shape" else v[t:t + 1] for k, v in flame.items()}
        np.savez(root / "flame_param" / f"{t:05d}.npz", static_offset=small(1, 20, 3), **step)
        for c, eye in enumerate(cameras):
            frame = {"timestep_index": t, "timestep_index_original": t, "timestep_id": f"frame_{t}",
                     "camera_index": c, "camera_id": f"22{c}", "cx": 15.0 + 1.5 * c,
                     "cy": H - (10.0 - 2.0 * c), "fl_x": 40.0 + c, "fl_y": 41.0 + c, "h": H, "w": W,
                     "transform_matrix": opengl_look_at(eye).tolist(),
                     "file_path": f"images/{t:05d}_{c:02d}.png",
                     "flame_param_path": f"flame_param/{t:05d}.npz"}
            images[t, c], alphas[t, c] = rgb(), gray()
            if rgba:
                save_png(root / frame["file_path"], np.dstack([images[t, c], alphas[t, c]]))
            else:
                frame["fg_mask_path"] = f"fg_masks/{t:05d}_{c:02d}.png"
                save_png(root / frame["fg_mask_path"], alphas[t, c])
                save_png(root / frame["file_path"], images[t, c])
            frames.append(frame)
    shared = {k: frames[-1][k] for k in ("cx", "cy", "fl_x", "fl_y", "h", "w")}
    if shared_intrinsics:
        frames = [{k: v for k, v in f.items() if k not in shared} for f in frames]
    db = {"frames": frames, **shared, "timestep_indices": list(range(num_times)),
          "camera_indices": list(range(len(cameras)))}
    (root / "transforms.json").write_text(json.dumps(db))
    if splits:  # VHAP's split_json: first 70% of time steps train/val (last camera), rest test
        nt_train = math.ceil(num_times * 0.7)
        val_cams = [len(cameras) - 1] if len(cameras) > 1 else []  # monocular: val is empty
        parts = {"train": [f for f in frames if f["timestep_index"] < nt_train
                           and f["camera_index"] not in val_cams],
                 "val": [f for f in frames if f["timestep_index"] < nt_train
                         and f["camera_index"] in val_cams],
                 "test": [f for f in frames if f["timestep_index"] >= nt_train]}
        for name, part in parts.items():
            (root / f"transforms_{name}.json").write_text(json.dumps({**shared, "frames": part}))
    return {"flame": flame, "frames": frames, "images": images, "alphas": alphas}


def test_vhap_multiview_cameras_params_images_and_splits(tmp_path):
    src, out = tmp_path / "vhap", tmp_path / "cap"
    tree = vhap_tree(src)
    capture = import_capture("vhap", src, out, progress=False)
    assert capture.rig == "flame" and len(capture.cameras) == 2 and len(capture.frames) == 8
    assert capture.extra["imported_from"] == "vhap" and capture.extra["source"] == str(src)
    assert (capture.extra["shape_count"], capture.extra["expr_count"]) == (300, 100)
    assert any("static_offset" in d for d in capture.extra["dropped"])
    for ours_key, theirs in (("shape", "shape"), ("expr", "expr"), ("rotation", "rotation"),
                             ("neck", "neck_pose"), ("jaw", "jaw_pose"), ("eyes", "eyes_pose"),
                             ("translation", "translation")):
        np.testing.assert_allclose(getattr(capture.params, ours_key), tree["flame"][theirs],
                                   atol=1e-6)
    by_key = {(f["timestep_index"], f["camera_index"]): f for f in tree["frames"]}
    for i, info in enumerate(capture.frames):
        key = (info.time, int(capture.cameras[info.camera].name[-1]))
        assert np.array_equal(as_uint8(capture.load_image(i)), tree["images"][key])
        assert np.array_equal(as_uint8(capture.load_mask(i))[..., 0], tree["alphas"][key])
        for point in POINTS:
            np.testing.assert_allclose(ours(capture, i, point), vhap_pixel(by_key[key], point),
                                       atol=2e-3)
    # frames are ordered (time, camera): VHAP put time steps 0-2 in train/val, 3 in test
    assert capture.splits == {"train": [0, 2, 4], "val": [1, 3, 5], "test": [6, 7]}


@pytest.mark.parametrize("splits", [True, False])  # VHAP's files and our default agree here
def test_vhap_monocular_shared_intrinsics_alpha_masks(tmp_path, splits):
    src, out = tmp_path / "vhap", tmp_path / "cap"
    tree = vhap_tree(src, cameras=((0.1, 0.0, 1.0),), rgba=True, shared_intrinsics=True,
                     splits=splits)
    assert (src / "transforms_val.json").is_file() == splits
    capture = import_capture("vhap", src / "transforms.json", out, progress=False)
    assert capture.splits == {"train": [0, 1, 2], "val": [], "test": [3]}
    top = json.loads((src / "transforms.json").read_text())
    assert "fl_x" not in top["frames"][0]
    for i in range(4):
        assert np.array_equal(as_uint8(capture.load_mask(i))[..., 0], tree["alphas"][i, 0])
        assert np.array_equal(as_uint8(capture.load_image(i)), tree["images"][i, 0])
        frame = {**top["frames"][i], **{k: top[k] for k in ("cx", "cy", "fl_x", "fl_y", "h", "w")}}
        for point in POINTS:
            np.testing.assert_allclose(ours(capture, i, point), vhap_pixel(frame, point), atol=2e-3)


def test_vhap_bad_sources_raise_one_error_naming_the_file(tmp_path):
    src, out = tmp_path / "vhap", tmp_path / "cap"
    vhap_tree(src)
    npz = src / "flame_param" / "00001.npz"
    good = dict(np.load(npz))
    npz.unlink()
    expect_error("vhap", src, out, "not found", npz)
    np.savez(npz, **{**good, "expr": small(1, 2, 50)})
    expect_error("vhap", src, out, "'expr'", npz)
    np.savez(npz, **good)
    image = src / "images" / "00003_01.png"
    Image.fromarray(np.zeros((H, W + 2, 3), np.uint8)).save(image)  # disagrees with w, h
    expect_error("vhap", src, out, "34x24", image)  # found while writing: .partial removed
    image.unlink()
    expect_error("vhap", src, out, "missing", image)
    (src / "transforms.json").write_text('{"frames": [')
    expect_error("vhap", src, out, "JSON", src / "transforms.json")


# ---------------------------------------------------------------- metrical-tracker

def pytorch3d_pixel(R, T, fl, pp, point) -> np.ndarray:
    """PyTorch3D: X_view = X @ R + T (x left, y up), NDC with the shorter side in [-1, 1]."""
    view = point @ R + T
    ndc = fl * view[:2] / view[2] + pp
    s = min(H, W) / 2
    return np.array([W / 2 - ndc[0] * s, H / 2 - ndc[1] * s])


def six_d(matrix, skew=False) -> np.ndarray:
    """PyTorch3D 6D: the first two rows; `skew` stores an un-normalised equivalent, as an
    optimiser leaves it."""
    a1, a2 = matrix[0], matrix[1]
    return np.concatenate([1.4 * a1, a2 + 0.3 * a1] if skew else [a1, a2])


def metrical_tree(root, num_frames=4, opencv_block=True) -> dict:
    truth = {"shape": small(1, 300), "exp": small(num_frames, 100), "jaw": small(num_frames, 3),
             "eyes": small(num_frames, 6), "cams": []}
    (root / "checkpoint").mkdir(parents=True)
    for i in range(num_frames):
        R = Rotation.from_rotvec(small(3)).as_matrix() @ np.diag([-1.0, 1.0, -1.0])
        T, fl, pp = np.array([0.01 * i, -0.02, 1.0 + 0.05 * i]), 3.0 + 0.1 * i, small(2)
        truth["cams"].append((R, T, fl, pp))
        mat = lambda v: Rotation.from_rotvec(v).as_matrix()  # noqa: E731
        payload = {
            "flame": {"exp": truth["exp"][i:i + 1].astype(np.float32),
                      "shape": truth["shape"].astype(np.float32),
                      "tex": small(1, 140), "sh": small(1, 9, 3), "eyelids": small(1, 2),
                      "jaw": six_d(mat(truth["jaw"][i]), skew=True)[None],
                      "eyes": np.concatenate([six_d(mat(truth["eyes"][i, :3])),
                                              six_d(mat(truth["eyes"][i, 3:]))])[None]},
            "camera": {"R": six_d(R, skew=True)[None].astype(np.float32),
                       "t": T[None].astype(np.float32), "fl": np.array([[fl]], np.float32),
                       "pp": pp[None].astype(np.float32)},
            "img_size": np.array([H, W]), "frame_id": f"{i:05d}", "global_step": 100 * i}
        if opencv_block:  # what PyTorch3D's opencv_from_cameras_projection stores
            s = min(H, W) / 2
            flip = np.diag([-1.0, -1.0, 1.0])
            payload["opencv"] = {"R": (flip @ R.T)[None], "t": (flip @ T)[None],
                                 "K": np.array([[[fl * s, 0, W / 2 - pp[0] * s],
                                                 [0, fl * s, H / 2 - pp[1] * s], [0, 0, 1]]])}
        torch.save(payload, root / "checkpoint" / f"{i:05d}.frame")
        truth[i] = rgb()
        save_png(root / "input" / f"{i:05d}.png", truth[i])
    return truth


@pytest.mark.parametrize("opencv_block", [True, False])
def test_metrical_cameras_params_images(tmp_path, opencv_block):
    src, out = tmp_path / "wojtek", tmp_path / "cap"
    truth = metrical_tree(src, opencv_block=opencv_block)
    capture = import_capture("metrical", src, out, progress=False)
    assert len(capture.cameras) == 4 and capture.splits == {"train": [0, 1, 2], "val": [],
                                                           "test": [3]}
    assert "2020" in capture.extra["flame_version"] and capture.extra["expr_count"] == 100
    assert any("eyelids" in d for d in capture.extra["dropped"])
    assert choose_preset(capture)[0] == "mono-phone"  # one camera per frame of one video: not multiview
    assert capture.extra["monocular"] is True and "preset" not in capture.extra  # describes, does not choose
    p = capture.params
    for key, value in (("shape", truth["shape"][0]), ("expr", truth["exp"]), ("jaw", truth["jaw"]),
                       ("eyes", truth["eyes"])):
        np.testing.assert_allclose(getattr(p, key).numpy(), value, atol=1e-5)
    assert not (p.rotation.any() or p.neck.any() or p.translation.any())
    for i in range(4):
        assert np.array_equal(as_uint8(capture.load_image(i)), truth[i])
        assert capture.load_mask(i) is None
        for point in POINTS:
            np.testing.assert_allclose(ours(capture, i, point),
                                       pytorch3d_pixel(*truth["cams"][i], point), atol=2e-3)


def test_metrical_refuses_code_in_checkpoints_and_bad_arrays(tmp_path):
    src, out = tmp_path / "actor", tmp_path / "cap"
    metrical_tree(src)
    path = src / "checkpoint" / "00001.frame"
    marker = tmp_path / "pwned"

    class RunsCode:  # unpickling this would call os.mkdir(marker)
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    good = torch.load(path, weights_only=False)  # our own test file
    torch.save({**good, "hook": RunsCode()}, path)
    expect_error("metrical", src, out, "pickled code", path)
    assert not marker.exists()
    torch.save({**good, "flame": {**good["flame"], "eyes": small(1, 9)}}, path)
    expect_error("metrical", src, out, "flame.eyes", path)
    opencv = {**good["opencv"], "K": good["opencv"]["K"] + np.array([[0, 0, 3.0]] * 3)}
    torch.save({**good, "opencv": opencv}, path)
    expect_error("metrical", src, out, "disagrees", path)
    torch.save(good, path)
    (src / "input" / "00002.png").unlink()
    expect_error("metrical", src, out, "missing", src / "input" / "00002.png")
    expect_error("metrical", tmp_path, out, "checkpoint", tmp_path)


def test_train_picks_mono_phone_for_an_imported_video_and_for_an_old_capture_naming_it(tmp_path, caplog):
    """A fresh import says it is one camera's video and the trainer chooses from that; a capture
    written before (extra.preset, no extra.monocular) keeps its named preset."""
    from avatar.cli.main import main

    src, out = tmp_path / "actor", tmp_path / "cap"
    metrical_tree(src)
    import_capture("metrical", src, out, progress=False)

    def chosen() -> str:
        caplog.clear()
        with caplog.at_level("INFO", logger="avatar"):
            assert main(["train", str(out), "--rig", "builtin", "--print-config"]) == 0
        return caplog.text

    assert "training preset 'mono-phone'" in chosen()
    doc = json.loads((out / "capture.json").read_text())
    assert len(doc["cameras"]) == 4  # one per frame: counted as views, they would mean multiview
    del doc["extra"]["monocular"]
    (out / "capture.json").write_text(json.dumps(doc))
    assert "training preset 'multiview'" in chosen()
    doc["extra"]["preset"] = "mono-phone"  # what the importers wrote before
    (out / "capture.json").write_text(json.dumps(doc))
    assert "training preset 'mono-phone': named by the capture" in chosen()


# ---------------------------------------------------------------- IMavatar / PointAvatar

def imavatar_pixel(world_mat, focal_cxcy, point) -> np.ndarray:
    """IMavatar's camera: FLAME x4 world, z = -1 image plane, intrinsics scaled to pixels as
    its dataset does (normalised, or 512-pixel units when cy > 1); inverse of its `lift`."""
    scale = np.array([W, H, W, H]) / (512.0 if focal_cxcy[3] > 1 else 1.0)
    fx, fy, cx, cy = np.asarray(focal_cxcy) * scale
    cam = np.asarray(world_mat)[:3, :3] @ (4.0 * point) + np.asarray(world_mat)[:3, 3]
    return np.array([cx + fx * cam[0] / cam[2], cy + fy * cam[1] / cam[2]])


def imavatar_tree(root, units="normalised", num_frames=4) -> dict:
    fx, fy, cx, cy = 30.0, 31.0, 15.2, 12.6  # pixels of this 32x24 image
    if units == "normalised":  # optimize.py: [-fx / size, fy / size, cx / size, cy / size]
        intrinsics = [-fx / W, fy / H, cx / W, cy / H]
    else:  # the older format: pixels of a 512 image
        intrinsics = [-fx * 512 / W, fy * 512 / H, cx * 512 / W, cy * 512 / H]
    rotation = Rotation.from_rotvec([0.02, -0.05, 0.01]).as_matrix()
    truth = {"shape": small(100), "expr": small(num_frames, 50), "pose": small(num_frames, 15),
             "intrinsics": intrinsics, "mats": []}
    frames = []
    for k in range(1, num_frames + 1):
        world_mat = np.hstack([rotation, [[0.02 * k], [-0.01], [-4.0]]])
        truth["mats"].append(world_mat)
        frames.append({"file_path": f"./image/{k}", "world_mat": world_mat.tolist(),
                       "expression": truth["expr"][k - 1].tolist(),
                       "pose": truth["pose"][k - 1].tolist(), "bbox": [-0.5, -0.5, 0.5, 0.5],
                       "flame_keypoints": small(68, 2).tolist()})
        truth[k - 1] = rgb()
        save_png(root / "image" / f"{k}.png", truth[k - 1])
        if k < num_frames:  # the last frame has no mask
            truth[f"mask{k - 1}"] = gray()
            save_png(root / "mask" / f"{k}.png", truth[f"mask{k - 1}"])
    doc = {"frames": frames, "intrinsics": intrinsics, "shape_params": truth["shape"].tolist()}
    (root / "flame_params.json").write_text(json.dumps(doc))
    return truth


@pytest.mark.parametrize("units", ["normalised", "pixels_512"])
def test_imavatar_cameras_params_images(tmp_path, units):
    src, out = tmp_path / "MVI_1810", tmp_path / "cap"
    truth = imavatar_tree(src, units)
    capture = import_capture("imavatar", src, out, progress=False)
    assert (capture.extra["shape_count"], capture.extra["expr_count"]) == (100, 50)
    assert capture.extra["masks"] == "3 of 4 frames" and capture.splits["test"] == [3]
    assert choose_preset(capture)[0] == "mono-phone"
    assert capture.extra["monocular"] is True and "preset" not in capture.extra
    p, pose = capture.params, truth["pose"]
    for key, part in (("shape", truth["shape"]), ("expr", truth["expr"]), ("rotation", pose[:, :3]),
                      ("neck", pose[:, 3:6]), ("jaw", pose[:, 6:9]), ("eyes", pose[:, 9:])):
        np.testing.assert_allclose(getattr(p, key).numpy(), part, atol=1e-6)
    assert not p.translation.any()
    for i in range(4):
        assert np.array_equal(as_uint8(capture.load_image(i)), truth[i])
        mask = capture.load_mask(i)
        assert (mask is None) == (i == 3)
        if mask is not None:
            assert np.array_equal(as_uint8(mask)[..., 0], truth[f"mask{i}"])
        for point in POINTS:
            np.testing.assert_allclose(ours(capture, i, point),
                                       imavatar_pixel(truth["mats"][i], truth["intrinsics"], point),
                                       atol=2e-3)


def test_imavatar_bad_sources(tmp_path):
    src, out = tmp_path / "video", tmp_path / "cap"
    imavatar_tree(src)
    json_path = src / "flame_params.json"
    good = json.loads(json_path.read_text())

    def fails_with(doc, match):
        json_path.write_text(json.dumps(doc))
        expect_error("imavatar", src, out, match, json_path)

    bad_pose = [dict(f) for f in good["frames"]]
    bad_pose[1]["pose"] = bad_pose[1]["pose"][:12]
    fails_with({**good, "frames": bad_pose}, "frame 1 'pose'")
    fails_with({**good, "intrinsics": [abs(v) for v in good["intrinsics"]]}, "mirror")
    scaled = [dict(f) for f in good["frames"]]
    scaled[0]["world_mat"] = (2 * np.array(scaled[0]["world_mat"])).tolist()
    fails_with({**good, "frames": scaled}, "not a rotation")
    fails_with({**good, "shape_params": "abc"}, "'shape_params'")
    json_path.write_text(json.dumps(good))
    (src / "image" / "3.png").unlink()
    expect_error("imavatar", src, out, "missing", src / "image" / "3.png")


# ---------------------------------------------------------------- dispatch

def test_import_capture_dispatch_and_fps(tmp_path):
    assert set(IMPORTERS) == {"vhap", "metrical", "imavatar"}
    with pytest.raises(ValueError, match="known: vhap, metrical, imavatar"):
        import_capture("nersemble", tmp_path, tmp_path / "cap")
    with pytest.raises(ImportSourceError, match="not found"):
        import_capture("vhap", tmp_path / "absent", tmp_path / "cap")
    src = tmp_path / "video"
    imavatar_tree(src, num_frames=2)
    capture = import_capture("imavatar", src, tmp_path / "cap", progress=False, fps=30.0)
    assert capture.fps == 30.0 and capture.extra["fps_source"] == "given by the caller"
    with pytest.raises(CaptureError, match="already exists"):
        import_capture("imavatar", src, tmp_path / "cap", progress=False)
    again = import_capture("imavatar", src, tmp_path / "cap", overwrite=True, progress=False)
    assert again.fps == 25.0
