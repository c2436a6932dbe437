"""Import a VHAP export (the NeRSemble-style folder GaussianAvatars trains on).

Source layout, as VHAP's `export_as_nerf_dataset.py` writes it and GaussianAvatars'
`scene/dataset_readers.py` reads it::

    <src>/transforms.json                       every frame, plus shared intrinsics at top level
    <src>/transforms_{train,val,test}.json      VHAP's split of the same frames (optional)
    <src>/images/{ti:05d}_{ci:02d}.png          RGB
    <src>/fg_masks/{ti:05d}_{ci:02d}.png        foreground alpha (optional: `fg_mask_path`)
    <src>/flame_param/{ti:05d}.npz              FLAME parameters of time step ti

A frame has `timestep_index`, `camera_index`, `camera_id`, `file_path`, `fg_mask_path`,
`flame_param_path`, `transform_matrix` and `fl_x fl_y cx cy w h` (in the frame, else at the top
level). `<src>` may also be the path of transforms.json itself.

Mapping:
- Rig: FLAME 2023 (VHAP's tracker loads asset/flame/flame2023.pkl; the npz files do not say, and
  older GaussianAvatars trackings used FLAME 2020). Identity `shape` [300] and `expr` [T, 100]
  (VHAP's n_shape / n_expr) are stored with the counts the files hold, nothing padded or cut;
  `extra` records them.
- `rotation`, `neck_pose`, `jaw_pose`, `eyes_pose` (FLAME joints 3 then 4), `translation`
  -> RigParams rotation, neck, jaw, eyes, translation. FLAME adds the translation after skinning,
  as our rig does. Units: metres, in the same world as the cameras.
- Cameras: `transform_matrix` is camera-to-world with OpenGL/Blender camera axes (x right, y up,
  z backward; VHAP's default `camera_convention_conversion='opencv->opengl'`), so
  world_to_cam = diag(1, -1, -1, 1) @ inv(transform_matrix). The same conversion replaced the
  principal point's y by `h - cy`, so K takes `h - cy` back (VHAP projects its exported frames
  with `world_to_ndc(..., flip_y=True)`, which lands on row `h - cy + fy * y / z`). fl_x, fl_y,
  cx are pixels; pixel centres sit at +0.5 (nvdiffrast), as ours do.
- Dropped: `static_offset` / `dynamic_offset` (per-vertex offsets on VHAP's FLAME-with-teeth
  mesh; our rig has no per-vertex offsets), camera_angle_x/y (implied by fl_x/fl_y), and the
  tracker's own tracked_flame_params_*.npz: VHAP's exporter re-centres the head (translation
  minus its mean) and moves the cameras to match, so only the exported per-time-step files agree
  with the exported cameras.
- Splits: from transforms_{train,val,test}.json when present, else the last 15% of time steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatar.data.capture import Capture
from avatar.rig.params import RigParams
from capture.importers.common import (CameraTable, ImportSourceError, SourceFrame, check_rotation,
                                      default_splits, import_notes, numbers,
                                      opengl_c2w_to_opencv_w2c, pixel_count, read_json, read_npz,
                                      resolve_fps, write_capture)

KIND = "vhap"
SPLIT_FILES = {"train": "transforms_train.json", "val": "transforms_val.json",
               "test": "transforms_test.json"}
INTRINSIC_KEYS = ("fl_x", "fl_y", "cx", "cy", "w", "h")
# VHAP npz key -> (RigParams key, width)
POSE_KEYS = {"rotation": ("rotation", 3), "neck_pose": ("neck", 3), "jaw_pose": ("jaw", 3),
             "eyes_pose": ("eyes", 6), "translation": ("translation", 3)}
MAPPING = [
    "FLAME npz rotation/neck_pose/jaw_pose/eyes_pose/translation -> rotation/neck/jaw/eyes/"
    "translation; shape and expr stored with the source's counts",
    "transform_matrix (camera-to-world, OpenGL axes) -> world_to_cam = diag(1,-1,-1,1) @ inv(.)",
    "principal point y written as h - cy by VHAP's opencv->opengl conversion -> K[1,2] = h - cy",
    "units: metres (FLAME), pixel centres at +0.5 in source and capture",
]

Key = tuple[int, int]  # (timestep_index, camera_index)


def import_vhap(src: str | Path, out: str | Path, overwrite: bool = False, progress: bool = True,
                fps: float | None = None) -> Capture:
    """Convert a VHAP / GaussianAvatars export at `src` into a capture directory at `out`."""
    src = Path(src)
    root = src.parent if src.is_file() else src
    if not root.is_dir():
        raise ImportSourceError(src, "VHAP export folder not found")
    entries, split_keys = _read_frames(root)
    keys = sorted(entries)
    times = sorted({t for t, _ in keys})
    time_of = {t: i for i, t in enumerate(times)}
    table = CameraTable()
    frames = []
    for key in keys:
        path, doc, frame = entries[key]
        where = f"frame (timestep {key[0]}, camera {key[1]})"
        K, width, height, w2c = _camera(doc, frame, where, path)
        name = str(frame.get("camera_id", f"cam{key[1]}"))
        mask = frame.get("fg_mask_path")
        frames.append(SourceFrame(time_of[key[0]], table.index(name, K, width, height, w2c),
                                  _image_path(root, frame, where, path),
                                  None if mask is None else _relative(root, mask, where, path)))
    params, unused = _flame_params(root, entries, times)
    dropped = [f"flame_param npz array '{k}'" for k in unused]
    if split_keys:
        index_of = {key: i for i, key in enumerate(keys)}
        splits = {name: sorted(index_of[k] for k in split_keys.get(name, []))
                  for name in SPLIT_FILES}
    else:
        splits = default_splits(frames, len(times))
    fps, fps_note = resolve_fps(fps)
    extra = import_notes(KIND, src, params, "FLAME 2023 (VHAP default; not stored in the files)",
                         fps_note, MAPPING, dropped)
    extra["splits_from"] = (", ".join(SPLIT_FILES[n] for n in split_keys) if split_keys
                            else "last 15% of time steps (the source has no split files)")
    return write_capture(Path(out), fps, table.cameras, frames, params, splits, extra,
                         overwrite, progress)


def _read_frames(root: Path) -> tuple[dict[Key, tuple[Path, dict, dict]], dict[str, list[Key]]]:
    """Frames by key (from transforms.json, else the union of the split files) and split keys."""
    main = root / "transforms.json"
    listed = {name: root / f for name, f in SPLIT_FILES.items() if (root / f).is_file()}
    sources = [main] if main.is_file() else list(listed.values())
    if not sources:
        raise ImportSourceError(root, "no transforms.json or transforms_{train,val,test}.json: "
                                "not a VHAP / GaussianAvatars export")
    docs = {path: read_json(path) for path in {*sources, *listed.values()}}
    entries: dict[Key, tuple[Path, dict, dict]] = {}
    for path in sources:
        for i, frame in enumerate(_frame_list(docs[path], path, allow_empty=path != main)):
            entries.setdefault(_frame_key(frame, i, path), (path, docs[path], frame))
    if not entries:
        raise ImportSourceError(root, "the transforms files list no frames")
    split_keys = {}
    for name, path in listed.items():
        frames = _frame_list(docs[path], path, allow_empty=True)  # monocular: val is empty
        split_keys[name] = [_frame_key(f, i, path) for i, f in enumerate(frames)]
        unknown = [k for k in split_keys[name] if k not in entries]
        if unknown:
            raise ImportSourceError(path, f"lists (timestep, camera) {unknown[:3]} that "
                                    f"{main.name} does not have")
    return entries, split_keys


def _frame_list(doc: dict, path: Path, allow_empty: bool = False) -> list[dict]:
    frames = doc.get("frames")
    if not isinstance(frames, list) or not all(isinstance(f, dict) for f in frames):
        raise ImportSourceError(path, "'frames' must be a list of objects")
    if not frames and not allow_empty:
        raise ImportSourceError(path, "'frames' is empty")
    return frames


def _frame_key(frame: dict, i: int, path: Path) -> Key:
    key = frame.get("timestep_index"), frame.get("camera_index")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in key):
        raise ImportSourceError(path, f"frame {i}: 'timestep_index' and 'camera_index' must be "
                                f"non-negative integers, got {key}")
    return key


def _camera(doc: dict, frame: dict, where: str,
            path: Path) -> tuple[np.ndarray, int, int, np.ndarray]:
    """K [3, 3] in OpenCV pixels, width, height, OpenCV world_to_cam [4, 4]."""
    raw = {k: frame.get(k, doc.get(k)) for k in INTRINSIC_KEYS}
    missing = [k for k, v in raw.items() if v is None]
    if missing:
        raise ImportSourceError(path, f"{where}: no {missing} in the frame or at the top level")
    fx, fy, cx, cy_gl = (float(numbers(raw[k], (), f"{where} '{k}'", path))
                         for k in ("fl_x", "fl_y", "cx", "cy"))
    width, height = (pixel_count(raw[k], f"{where} '{k}'", path) for k in ("w", "h"))
    c2w = numbers(frame.get("transform_matrix"), (None, 4), f"{where} 'transform_matrix'", path)
    if c2w.shape[0] == 3:
        c2w = np.vstack([c2w, [0.0, 0.0, 0.0, 1.0]])
    if c2w.shape != (4, 4) or not np.allclose(c2w[3], [0, 0, 0, 1]):
        raise ImportSourceError(path, f"{where} 'transform_matrix' must be 3x4 or 4x4 with last "
                                "row 0 0 0 1")
    check_rotation(c2w[:3, :3], f"{where} 'transform_matrix' rotation", path)
    K = np.array([[fx, 0.0, cx], [0.0, fy, height - cy_gl], [0.0, 0.0, 1.0]])
    return K, width, height, opengl_c2w_to_opencv_w2c(c2w)


def _relative(root: Path, rel, where: str, path: Path) -> Path:
    if not isinstance(rel, str) or not rel:
        raise ImportSourceError(path, f"{where}: file paths must be non-empty strings, got {rel!r}")
    return root / rel


def _image_path(root: Path, frame: dict, where: str, path: Path) -> Path:
    """`file_path`; GaussianAvatars also accepts it without the .png ending."""
    image = _relative(root, frame.get("file_path"), where, path)
    if not image.suffix and not image.exists():
        return image.with_name(image.name + ".png")
    return image


def _flame_params(root: Path, entries: dict[Key, tuple[Path, dict, dict]],
                  times: list[int]) -> tuple[RigParams, list[str]]:
    """RigParams [T] from each time step's flame_param npz, and the npz keys left unused."""
    files: dict[int, Path] = {}
    for (t, c), (path, _, frame) in sorted(entries.items()):
        if "flame_param_path" not in frame:
            raise ImportSourceError(path, f"frame (timestep {t}, camera {c}) has no "
                                    "'flame_param_path' (export with VHAP's flame_mode='param')")
        files.setdefault(t, _relative(root, frame["flame_param_path"], f"timestep {t}", path))
    rows: dict[str, list[np.ndarray]] = {"expr": [], **{ours: [] for ours, _ in POSE_KEYS.values()}}
    shape = None
    unused: set[str] = set()
    for t in times:
        path = files[t]
        data = read_npz(path)
        missing = [k for k in ("shape", "expr", *POSE_KEYS) if k not in data]
        if missing:
            raise ImportSourceError(path, f"missing FLAME arrays {missing}")
        step_shape = _row(data, "shape", None if shape is None else len(shape), path)
        if shape is None:
            shape = step_shape
        elif not np.allclose(step_shape, shape, atol=1e-6):
            raise ImportSourceError(path, f"'shape' differs from time step {times[0]}'s; one "
                                    "identity per capture is expected")
        num_expr = len(rows["expr"][0]) if rows["expr"] else None
        rows["expr"].append(_row(data, "expr", num_expr, path))
        for key, (ours, width) in POSE_KEYS.items():
            rows[ours].append(_row(data, key, width, path))
        unused |= set(data) - {"shape", "expr", *POSE_KEYS}
    arrays = {k: np.stack(v) for k, v in rows.items()}
    return RigParams.from_numpy({"shape": shape, **arrays}), sorted(unused)


def _row(data: dict[str, np.ndarray], key: str, width: int | None, path: Path) -> np.ndarray:
    """One time step's [width] vector, stored by VHAP as [1, width] (shape as [width])."""
    a = data[key]
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    return numbers(a, (width,), f"'{key}'", path)
