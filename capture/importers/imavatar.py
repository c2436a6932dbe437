"""Import an IMavatar / PointAvatar video folder (FLAME fitted by their DECA-based preprocessing).

Source layout, as IMavatar's `preprocess/DECA/optimize.py` writes it and both tools'
`code/datasets/real_dataset.py` read it::

    <src>/flame_params.json    {"intrinsics": [fx, fy, cx, cy], "shape_params": [100],
                                "frames": [{"file_path": "./image/1", "world_mat": 3x4 or 4x4,
                                            "expression": [50], "pose": [15], "bbox": [4],
                                            "flame_keypoints": [[x, y], ...]}, ...]}
    <src>/image/{k}.png        RGB; `file_path` has no ending, the readers append ".png"
    <src>/mask/{k}.png         foreground mask: `file_path` with "image" replaced by "mask"

`<src>` may also be the JSON file itself (another `json_name`). One folder is one video
(IMavatar's `sub_dir`); train and test videos are imported separately.

Mapping:
- Rig: FLAME 2020 (./flame/FLAME2020/generic_model.pkl) with n_shape=100 and n_exp=50;
  `shape_params` and `expression` are stored with the counts the file holds (PointAvatar
  datasets may carry more than 50), nothing padded or cut; `extra` records them.
- `pose` (15) = FLAME's full pose: [0:3] rotation, [3:6] neck, [6:9] jaw, [9:15] eyes (joints 3
  then 4). FLAME has no translation here (it lives in `world_mat`): translation = 0.
- Units: IMavatar scales FLAME by 4 (`factor = 4` in its FLAME layer: "The FLAME head is
  centered at the origin, scaled by 4 times"), so a world point of theirs is 4x ours in metres:
  world_to_cam keeps world_mat's rotation and divides its translation by 4.
- Camera: world_mat is world-to-camera with the camera looking down -z (their ray caster lifts
  pixels to z = -1), and the intrinsics are normalised by the image size (x terms by the width,
  y terms by the height; the older format, recognised as IMavatar does by cy > 1, is in pixels of
  a 512 image). A point projects to u = cx + fx * x / z, v = cy + fy * y / z in their camera
  frame, with fx stored negative by the preprocessing. In OpenCV axes that is
  world_to_cam = diag(sign(-fx), sign(-fy), -1) @ world_mat and K = [|fx|, |fy|, cx, cy]
  (i.e. diag(1, -1, -1) for the usual fx < 0 < fy); signs that would mirror the image are
  refused. Pixel coordinates are continuous as in DECA's fitting and PointAvatar's PyTorch3D
  renderer (centres at +0.5, as ours); IMavatar's own ray caster samples rays at integer
  coordinates, half a pixel from that.
- Dropped: bbox and flame_keypoints (2D aids for their training); no split in the source: the
  last 15% of frames are "test".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatar.data.capture import Capture
from avatar.rig.params import RigParams
from capture.importers.common import (CameraTable, ImportSourceError, SourceFrame, check_rotation,
                                      default_splits, image_size, import_notes, numbers,
                                      read_json, resolve_fps, write_capture)

KIND = "imavatar"
JSON_NAME = "flame_params.json"
FLAME_SCALE = 4.0  # IMavatar's FLAME layer multiplies template and blendshapes by 4
OLD_FORMAT_SIZE = 512.0  # intrinsics in pixels of a 512x512 image when cy > 1
POSE_SLICES = {"rotation": slice(0, 3), "neck": slice(3, 6), "jaw": slice(6, 9),
               "eyes": slice(9, 15)}
MAPPING = [
    "pose[0:3]/[3:6]/[6:9]/[9:15] -> rotation/neck/jaw/eyes; expression -> expr, shape_params "
    "-> shape (source counts); translation = 0",
    "world_mat (world-to-camera, camera looks down -z, FLAME x4) -> world_to_cam = "
    "diag(sign(-fx), sign(-fy), -1) @ [R | t / 4]",
    "intrinsics normalised by image width (x) / height (y), or 512-pixel units when cy > 1 -> "
    "K = [|fx|, |fy|, cx, cy] in pixels",
    "units: metres after dividing their 4x-scaled world by 4; pixel centres at +0.5",
]
DROPPED = ["frames[].bbox", "frames[].flame_keypoints"]


def import_imavatar(src: str | Path, out: str | Path, overwrite: bool = False,
                    progress: bool = True, fps: float | None = None) -> Capture:
    """Convert an IMavatar / PointAvatar video folder at `src` into a capture directory at `out`."""
    src = Path(src)
    json_path = src if src.is_file() else src / JSON_NAME
    root = json_path.parent
    doc = read_json(json_path)
    intrinsics = numbers(doc.get("intrinsics"), (4,), "'intrinsics'", json_path)
    shape = numbers(doc.get("shape_params"), (None,), "'shape_params'", json_path)
    raw_frames = doc.get("frames")
    if not isinstance(raw_frames, list) or not raw_frames:
        raise ImportSourceError(json_path, "'frames' must be a non-empty list")
    table = CameraTable()
    frames, expressions, poses = [], [], []
    for i, frame in enumerate(raw_frames):
        if not isinstance(frame, dict):
            raise ImportSourceError(json_path, f"frame {i} must be an object")
        image, mask = _paths(root, frame.get("file_path"), i, json_path)
        if not image.is_file():
            raise ImportSourceError(image, f"image of frame {i} ({frame['file_path']}) is missing")
        width, height = image_size(image)
        K, w2c = _camera(intrinsics, frame.get("world_mat"), width, height, i, json_path)
        camera = table.index(f"cam{len(table.cameras)}", K, width, height, w2c)
        frames.append(SourceFrame(i, camera, image, mask if mask.is_file() else None))
        width_e = len(expressions[0]) if expressions else None
        expressions.append(numbers(frame.get("expression"), (width_e,),
                                   f"frame {i} 'expression'", json_path))
        poses.append(numbers(frame.get("pose"), (15,), f"frame {i} 'pose'", json_path))
    pose = np.stack(poses)  # [T, 15]
    params = RigParams.from_numpy({"shape": shape, "expr": np.stack(expressions),
                                   "translation": np.zeros((len(poses), 3)),
                                   **{k: pose[:, s] for k, s in POSE_SLICES.items()}})
    fps, fps_note = resolve_fps(fps)
    extra = import_notes(KIND, src, params, "FLAME 2020 (IMavatar / PointAvatar)", fps_note,
                         MAPPING, DROPPED)
    extra["splits_from"] = "last 15% of frames (the source has no split)"
    extra["monocular"] = True  # one video: its per-frame cameras are not several views
    extra["masks"] = f"{sum(f.mask is not None for f in frames)} of {len(frames)} frames"
    return write_capture(Path(out), fps, table.cameras, frames, params,
                         default_splits(frames, len(frames)), extra, overwrite, progress)


def _paths(root: Path, file_path, i: int, json_path: Path) -> tuple[Path, Path]:
    """Image and mask path of `file_path` the way the readers build them."""
    if not isinstance(file_path, str) or not file_path:
        raise ImportSourceError(json_path, f"frame {i}: 'file_path' must be a non-empty string")
    stem = file_path[:-4] if file_path.endswith(".png") else file_path
    return root / f"{stem}.png", root / f"{stem.replace('image', 'mask')}.png"


def _camera(intrinsics: np.ndarray, world_mat, width: int, height: int, i: int,
            json_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """K [3, 3] pixels and OpenCV world_to_cam [4, 4] in metres for one frame."""
    what = f"frame {i} 'world_mat'"
    m = numbers(world_mat, (None, 4), what, json_path)
    if m.shape[0] == 4 and not np.allclose(m[3], [0, 0, 0, 1]):
        raise ImportSourceError(json_path, f"{what}: a 4x4 world_mat must end in 0 0 0 1")
    if m.shape[0] not in (3, 4):
        raise ImportSourceError(json_path, f"{what} must be 3x4 or 4x4, got {list(m.shape)}")
    check_rotation(m[:3, :3], f"{what} rotation (world_mat holds no intrinsics)", json_path)
    fx, fy, cx, cy = intrinsics
    unit_x, unit_y = ((width / OLD_FORMAT_SIZE, height / OLD_FORMAT_SIZE) if cy > 1
                      else (float(width), float(height)))
    axes = np.array([np.sign(-fx), np.sign(-fy), -1.0])
    if fx == 0 or fy == 0 or np.prod(axes) < 0:
        raise ImportSourceError(json_path, f"'intrinsics' {intrinsics.tolist()}: fx and fy must "
                                "be non-zero with opposite signs (same signs mirror the image)")
    w2c = np.eye(4)
    w2c[:3, :3] = axes[:, None] * m[:3, :3]
    w2c[:3, 3] = axes * m[:3, 3] / FLAME_SCALE
    K = np.array([[abs(fx) * unit_x, 0.0, cx * unit_x], [0.0, abs(fy) * unit_y, cy * unit_y],
                  [0.0, 0.0, 1.0]])
    return K, w2c
