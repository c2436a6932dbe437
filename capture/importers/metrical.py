"""Import metrical-tracker output (the monocular FLAME tracker that INSTA's data comes from).

Source layout, as metrical-tracker's `tracker.py` writes it (`checkpoint` / `save_checkpoint`;
INSTA's `scripts/transforms.py` reads the same files)::

    <src>/checkpoint/{frame:05d}.frame    torch.save of a dict of numpy arrays, one per frame
    <src>/input/{frame:05d}.png           the tracked frame (cropped and resized) as RGB
    (mesh/, depth/, video/, pyramid/ are by-products and are not read)

A checkpoint holds flame {exp [1, 100], shape [1, 300], jaw [1, 6], eyes [1, 12],
eyelids [1, 2], tex, sh}, camera {R [1, 6], t [1, 3], fl [1, 1], pp [1, 2]} (PyTorch3D
`PerspectiveCameras` in NDC units), opencv {R, t, K} (PyTorch3D's own OpenCV conversion),
img_size [h, w], frame_id and global_step.

Safety: a .frame file is a pickle. It is read with `torch.load(weights_only=True)`, which refuses
every global outside torch's allow-list; for that one call we add only numpy's array builders
(`_reconstruct`, `scalar`, `ndarray`, `dtype` and the concrete dtype classes), which make arrays
from bytes and call nothing else. A checkpoint that needs anything more is refused, never run.

Mapping:
- Rig: FLAME 2020 (cfg.flame_geom_path = data/FLAME2020/generic_model.pkl) with 300 shape and
  100 expression components (cfg.num_shape_params / num_exp_params); stored with the counts the
  files hold, nothing padded or cut; `extra` records them. Units: metres (MICA identities).
- Rotations are PyTorch3D 6D (the first two rows of the matrix, Gram-Schmidt): jaw -> jaw,
  eyes[0:6] -> FLAME joint 3 (our eyes[:3]), eyes[6:12] -> joint 4 (eyes[3:]); to axis-angle.
- The tracker never moves the head: FLAME's global rotation and neck stay identity and its
  translation zero, while each frame's camera carries the rigid motion. So rotation, neck and
  translation are zero and every frame gets its own camera (equal ones are merged).
- Camera: PyTorch3D view space is x left, y up, z forward with row vectors
  (X_view = X_world @ R + T), hence OpenCV world_to_cam = diag(-1, -1, 1) [R^T | T]. Focal length
  and principal point are NDC units in which the shorter image side spans [-1, 1]; with
  s = min(h, w) / 2: fx = fl * s, cx = w / 2 - px * s, cy = h / 2 - py * s, in continuous pixel
  coordinates (centres at +0.5, as ours). When the `opencv` block is present it must agree.
- Dropped: eyelids (metrical-tracker's own two eyelid blendshapes, not part of FLAME), tex and sh
  (albedo and lighting), meshes and depth maps. The source has no masks and no split: the last
  15% of frames are "test".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from avatar.data.capture import Capture
from avatar.rig.lbs import matrix_to_axis_angle
from avatar.rig.params import RigParams
from capture.importers.common import (CameraTable, ImportSourceError, SourceFrame,
                                      check_rotation, default_splits, import_notes, numbers,
                                      pixel_count, resolve_fps, rotation_6d_to_matrix,
                                      write_capture)

KIND = "metrical"
PYTORCH3D_TO_OPENCV = np.diag([-1.0, -1.0, 1.0])  # view axes x left, y up -> x right, y down
MAPPING = [
    "flame.exp -> expr, flame.shape -> shape (source counts); jaw, eyes[0:6], eyes[6:12] "
    "(PyTorch3D 6D) -> axis-angle jaw, eyes[:3], eyes[3:]",
    "rotation, neck, translation = 0: the per-frame camera carries the head's rigid motion",
    "camera R (6D), t -> world_to_cam = diag(-1,-1,1) [R^T | t]; fl, pp (NDC, shorter side = 2) "
    "-> fx = fl*s, cx = w/2 - px*s, cy = h/2 - py*s with s = min(h, w)/2",
    "units: metres (FLAME / MICA), pixel centres at +0.5 in source and capture",
]
DROPPED = ["flame.eyelids (metrical-tracker eyelid blendshapes)", "flame.tex", "flame.sh",
           "mesh/ and depth/ by-products"]


def import_metrical(src: str | Path, out: str | Path, overwrite: bool = False,
                    progress: bool = True, fps: float | None = None) -> Capture:
    """Convert a metrical-tracker output folder at `src` into a capture directory at `out`."""
    src = Path(src)
    files = sorted((src / "checkpoint").glob("*.frame"))
    if not files:
        raise ImportSourceError(src, "no checkpoint/*.frame files: not a metrical-tracker output "
                                "folder (<actor>/checkpoint/*.frame, <actor>/input/*.png)")
    table = CameraTable()
    frames, steps = [], []
    for time, path in enumerate(files):
        step = _read_step(path)
        camera = table.index(f"frame{path.stem}", step["K"], step["width"], step["height"],
                             step["w2c"])
        frames.append(SourceFrame(time, camera, src / "input" / f"{path.stem}.png", None))
        steps.append(step)
    shape = steps[0]["shape"]
    for path, step in zip(files, steps):
        if step["shape"].shape != shape.shape or not np.allclose(step["shape"], shape, atol=1e-5):
            raise ImportSourceError(path, f"'flame.shape' differs from {files[0].name}'s; one "
                                    "identity per capture is expected")
    widths = {len(step["expr"]) for step in steps}
    if len(widths) > 1:
        raise ImportSourceError(src / "checkpoint", f"checkpoints disagree on the number of "
                                f"expression coefficients: {sorted(widths)}")
    num = len(steps)
    params = RigParams.from_numpy({
        "shape": shape, "expr": np.stack([s["expr"] for s in steps]),
        "jaw": np.stack([s["jaw"] for s in steps]), "eyes": np.stack([s["eyes"] for s in steps]),
        "rotation": np.zeros((num, 3)), "neck": np.zeros((num, 3)),
        "translation": np.zeros((num, 3))})
    fps, fps_note = resolve_fps(fps)
    extra = import_notes(KIND, src, params, "FLAME 2020 (metrical-tracker default)", fps_note,
                         MAPPING, DROPPED)
    extra["splits_from"] = "last 15% of frames (the source has no split)"
    extra["monocular"] = True  # one video: its per-frame cameras are not several views
    return write_capture(Path(out), fps, table.cameras, frames, params,
                         default_splits(frames, num), extra, overwrite, progress)


def load_checkpoint(path: Path) -> dict:
    """A .frame file through torch's weights-only unpickler plus numpy's array builders only."""
    try:
        with torch.serialization.safe_globals(_numpy_array_builders()):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any failure means "not a checkpoint we can read safely"
        raise ImportSourceError(path, "not a metrical-tracker checkpoint that loads without "
                                f"running pickled code ({type(e).__name__}: "
                                f"{str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), dict)
                                                for k in ("flame", "camera")):
        raise ImportSourceError(path, "expected a dict with 'flame' and 'camera' entries "
                                "(metrical-tracker checkpoint)")
    return payload


def _numpy_array_builders() -> list:
    """numpy's pickle helpers under both module names (numpy 1 writes numpy.core, 2 numpy._core)."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 1.26
        from numpy.core.multiarray import _reconstruct, scalar
    helpers = []
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        helpers += [(_reconstruct, f"{module}._reconstruct"), (scalar, f"{module}.scalar")]
    dtype_classes = {type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDG"}
    return [*helpers, np.ndarray, np.dtype, *dtype_classes]


def _get(block: dict, name: str, key: str, shape: tuple[int | None, ...] | None,
         path: Path) -> np.ndarray:
    """block[key] as finite float64 of `shape` (None: any shape), else one error naming it."""
    if key not in block:
        raise ImportSourceError(path, f"no '{name}.{key}'")
    value = block[key]
    value = value.detach().cpu().numpy() if torch.is_tensor(value) else value
    if shape is None:
        shape = (None,) * np.ndim(value)
    return numbers(value, shape, f"'{name}.{key}'", path)


def _read_step(path: Path) -> dict:
    """One checkpoint -> shape, expr, jaw [3], eyes [6], K [3, 3], width, height, w2c [4, 4]."""
    payload = load_checkpoint(path)
    flame, camera = payload["flame"], payload["camera"]
    jaw = rotation_6d_to_matrix(_get(flame, "flame", "jaw", (1, 6), path)[0], "'flame.jaw'", path)
    eyes6 = _get(flame, "flame", "eyes", (1, 12), path)[0]
    eyes = [rotation_6d_to_matrix(eyes6[i:i + 6], "'flame.eyes'", path) for i in (0, 6)]
    size = _get(payload, "checkpoint", "img_size", (2,), path)
    height, width = (pixel_count(v, "'img_size'", path) for v in size)
    K, w2c = _opencv_camera(camera, width, height, path)
    if isinstance(payload.get("opencv"), dict):
        _check_opencv_block(payload["opencv"], K, w2c, width, height, path)
    return {"shape": _get(flame, "flame", "shape", (1, None), path)[0],
            "expr": _get(flame, "flame", "exp", (1, None), path)[0],
            **_jaw_and_eyes(np.stack([jaw, *eyes])),
            "K": K, "width": width, "height": height, "w2c": w2c}


def _jaw_and_eyes(rotations: np.ndarray) -> dict[str, np.ndarray]:
    """[3, 3, 3] jaw, left eye, right eye rotations -> their axis-angles, the capture's keys."""
    angles = matrix_to_axis_angle(torch.from_numpy(rotations)).numpy()  # [3, 3]
    return {"jaw": angles[0], "eyes": angles[1:].reshape(-1)}


def _opencv_camera(camera: dict, width: int, height: int,
                   path: Path) -> tuple[np.ndarray, np.ndarray]:
    """K [3, 3] pixels and OpenCV world_to_cam [4, 4] from the PyTorch3D camera block."""
    raw_r = _get(camera, "camera", "R", None, path)
    if raw_r.shape == (1, 6):
        r = rotation_6d_to_matrix(raw_r[0], "'camera.R'", path)
    elif raw_r.shape == (1, 3, 3):
        r = raw_r[0]
        check_rotation(r, "'camera.R'", path)
    else:
        raise ImportSourceError(path, f"'camera.R' must be [1, 6] (6D) or [1, 3, 3], "
                                f"got {list(raw_r.shape)}")
    t = _get(camera, "camera", "t", (1, 3), path)[0]
    fl = _get(camera, "camera", "fl", (1, None), path)[0]
    if len(fl) not in (1, 2):
        raise ImportSourceError(path, f"'camera.fl' must hold 1 or 2 values, got {len(fl)}")
    px, py = _get(camera, "camera", "pp", (1, 2), path)[0]
    s = min(width, height) / 2.0
    K = np.array([[fl[0] * s, 0.0, width / 2.0 - px * s], [0.0, fl[-1] * s, height / 2.0 - py * s],
                  [0.0, 0.0, 1.0]])
    w2c = np.eye(4)
    w2c[:3, :3] = PYTORCH3D_TO_OPENCV @ r.T
    w2c[:3, 3] = PYTORCH3D_TO_OPENCV @ t
    return K, w2c


def _check_opencv_block(block: dict, K: np.ndarray, w2c: np.ndarray, width: int, height: int,
                        path: Path) -> None:
    """The tracker's own conversion must match ours (K within half a pixel, so that a different
    pixel-centre convention in the writer's PyTorch3D does not reject a good file)."""
    theirs_k = _get(block, "opencv", "K", (1, 3, 3), path)[0]
    theirs_r = _get(block, "opencv", "R", (1, 3, 3), path)[0]
    theirs_t = _get(block, "opencv", "t", (1, 3), path)[0]
    agree = (np.allclose(theirs_k, K, atol=0.5 + 1e-4 * max(width, height))
             and np.allclose(theirs_r, w2c[:3, :3], atol=1e-4)
             and np.allclose(theirs_t, w2c[:3, 3], atol=1e-4, rtol=1e-4))
    if not agree:
        raise ImportSourceError(path, "its 'opencv' camera disagrees with its 'camera' block "
                                "converted from PyTorch3D's convention; refusing to guess which "
                                "one is right")
