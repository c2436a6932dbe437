"""Capture directories: images, masks, cameras and per-time-step rig parameters (version 1).

One format for monocular video and multiview rigs::

    <root>/capture.json   {"format": "avatar-capture", "version": 1, "fps", "rig",
                           "num_time_steps": T,
                           "cameras": [{"name", "K": [3][3], "width", "height",
                                        "world_to_cam": [4][4]}, ...],
                           "frames": [{"time", "camera", "image", "mask"}, ...],
                           "splits": {"train": [...], "val": [...], "test": [...]},
                           "extra": {...}}
    <root>/images/{time:05d}_c{camera:02d}.png   RGB, camera width x height
    <root>/masks/{time:05d}_c{camera:02d}.png    8-bit foreground alpha (optional per frame); a
                                                  second channel, where present, marks the pixels
                                                  the frame knows (0: the crop ran past the video)
    <root>/params.npz     RigParams arrays (PARAM_KEYS; T time steps) + world_to_cam [C, 4, 4]

A *frame* is one image: a time step seen by one camera. ``time`` indexes the parameter arrays,
``camera`` the camera list; image and mask paths are relative to the root; splits list frame
indices. Cameras are OpenCV pinhole (x right, y down, z forward), K in pixels, world = rig space.
The camera matrices appear in both capture.json and params.npz and must agree.

`CaptureWriter` builds the folder as ``<root>.partial`` and renames it to ``<root>`` only when
`finish` succeeds, so an interrupted write never leaves a folder that looks complete.
`load_capture` checks everything except pixel contents and raises `CaptureError` otherwise.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np
import torch
from PIL import Image

from avatar.data.errors import CaptureError, JSONTextError, read_json
from avatar.data.npz import read_npz
from avatar.splat.camera import Camera
from avatar.rig.head_rig import HeadRig
from avatar.rig.params import PARAM_KEYS, RigParams
from avatar.rig.signature import is_recorded_rig

FORMAT_NAME = "avatar-capture"
FORMAT_VERSION = 1
MAX_IMAGE_SIDE = 8192  # pixels: larger frames are refused before anything is decoded
PNG_COMPRESS_LEVEL = 1  # fast: captures are written once per tracking run and read many times


@dataclass
class CameraInfo:
    name: str
    K: np.ndarray  # [3, 3] pixels
    width: int
    height: int
    world_to_cam: np.ndarray  # [4, 4]

    def to_camera(self) -> Camera:
        return Camera(
            torch.as_tensor(self.K, dtype=torch.float32),
            torch.as_tensor(self.world_to_cam, dtype=torch.float32),
            self.width,
            self.height,
        )


@dataclass
class FrameInfo:
    time: int  # index into params (time step)
    camera: int  # index into cameras
    image: str  # path relative to root
    mask: str | None  # path relative to root


@dataclass
class Capture:
    root: Path
    fps: float
    rig: str  # rig spec used to make it, e.g. "builtin"
    cameras: list[CameraInfo]
    frames: list[FrameInfo]
    params: RigParams  # T time steps
    splits: dict[str, list[int]]  # "train"/"val"/"test" -> frame indices
    extra: dict = field(default_factory=dict)  # free-form notes from the writer

    @property
    def monocular(self) -> bool:
        """Whether the capture says it is one camera's video (extra.monocular true, as `avatar
        track` and the monocular importers write): its per-frame cameras are crops that follow the
        head, not several views."""
        return self.extra.get("monocular") is True

    def camera(self, frame: int) -> Camera:
        return self.cameras[self.frames[frame].camera].to_camera()

    def load_image(self, frame: int) -> torch.Tensor:
        """[H, W, 3] float32 in [0, 1]."""
        pixels = self._read_png(frame, self.frames[frame].image, "RGB")
        return torch.from_numpy(pixels).float() / 255.0

    def load_mask(self, frame: int) -> torch.Tensor | None:
        """[H, W, 1] float32 in [0, 1], or None when the frame has no mask."""
        return self.load_mask_and_known(frame)[0]

    def load_known(self, frame: int) -> torch.Tensor | None:
        """[H, W, 1] float32 in {0, 1}: the pixels the frame knows, 0 where its crop ran past the
        edge of the video it was cut from (neither person nor background: unknown); None when it
        knows them all (a mask without a second channel, or no mask)."""
        return self.load_mask_and_known(frame)[1]

    def load_mask_and_known(self, frame: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """`load_mask` and `load_known` of the frame, its mask decoded once."""
        mask = self.frames[frame].mask
        if mask is None:
            return None, None
        pixels = self._read_png(frame, mask, None)  # [H, W] grey, or [H, W, 2] grey + known
        alpha = torch.from_numpy(pixels[..., 0] if pixels.ndim == 3 else pixels).float()[..., None] / 255.0
        if pixels.ndim != 3:  # only a grey + alpha mask says what it does not know
            return alpha, None
        return alpha, torch.from_numpy(pixels[..., 1] >= 128).float()[..., None]

    def frame_params(self, frame: int) -> RigParams:
        """The one time step that `frame` shows."""
        return self.params.frame(self.frames[frame].time)

    def recorded_video(self) -> Path | None:
        """The one source video `avatar track` recorded, as given (relative to the working
        directory then), relative to the capture or to its folder; None when the capture records
        not exactly one video or it is not found."""
        videos = self.extra.get("videos") or []
        if len(videos) != 1:
            return None
        recorded = Path(videos[0])
        return next((p for p in (recorded, self.root / recorded, self.root.parent / recorded) if p.is_file()), None)

    def check_rig(self, rig: HeadRig) -> None:
        """A CaptureError when the capture was not tracked with `rig`: parameters not sized for it
        (another rig, or a damaged file: the kernels would fail later without saying which file),
        or, for captures that record it, another version of its geometry (the fit would be off)."""
        for key, have, want in (
            ("shape", self.params.shape.shape[-1], rig.num_shape),
            ("expr", self.params.expr.shape[-1], rig.num_expr),
        ):
            if have != want:
                raise CaptureError(
                    self.root / "params.npz",
                    f"'{key}' has {have} values per time step, the rig "
                    f"'{rig.name}' has {want} (tracked with another rig, or an earlier version of "
                    f"this one? `avatar track` the video again)",
                )
        signature = self.extra.get("rig_signature")  # capture.track records it and the hash; importers neither
        if is_recorded_rig(rig, signature, self.extra.get("rig_hash")):
            return
        if signature is not None:
            raise CaptureError(
                self.root / "capture.json",
                f"tracked with another version of the rig '{rig.name}' "
                "(its geometry has changed since, so these parameters no longer fit it): "
                "`avatar track` the video again",
            )
        raise CaptureError(
            self.root / "capture.json",
            f"tracked with another version of the rig '{rig.name}', "
            "or with this version built on another machine (this capture records a byte hash "
            "of the geometry, which differs in the last bits there): `avatar track` the video "
            "again, here",
        )

    def _read_png(self, frame: int, relative: str, mode: str | None) -> np.ndarray:
        """The PNG's pixels in `mode` (None: a mask's, grey or grey + alpha as stored, grey otherwise)."""
        path = self.root / relative
        info = self.cameras[self.frames[frame].camera]
        try:
            with Image.open(path) as img:
                if img.size != (info.width, info.height):  # checked before decoding: no decompression bombs
                    raise CaptureError(
                        path,
                        f"image is {img.size[0]}x{img.size[1]}, camera '{info.name}' is {info.width}x{info.height}",
                    )
                pixels = np.array(img.convert(mode or "L") if mode is not None or img.mode not in ("L", "LA") else img)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            if isinstance(e, CaptureError):
                raise
            raise CaptureError(path, f"cannot read image of frame {frame} ({e})") from None
        return pixels


def image_name(time: int, camera: int) -> str:
    return f"{time:05d}_c{camera:02d}.png"


def load_capture(root: str | Path) -> Capture:
    """Read and validate a capture directory; raises CaptureError naming the problem."""
    root = Path(root)
    meta_path = root / "capture.json"
    if not meta_path.is_file():
        partial = root.with_name(root.name + ".partial")
        hint = f" (an unfinished write was left in {partial})" if partial.exists() else ""
        what = "has no capture.json" if root.is_dir() else "capture directory not found"
        raise CaptureError(root, what + hint)
    try:
        meta = read_json(meta_path)  # guarded: deep nesting and huge numbers are refused, not raised
    except OSError as e:
        raise CaptureError(meta_path, f"not readable JSON ({e.strerror or e})") from None
    except JSONTextError as e:
        raise CaptureError(meta_path, f"not readable JSON ({e})") from None
    check = _Checker(meta_path)
    check.that(isinstance(meta, dict), "expected a JSON object")
    check.that(meta.get("format") == FORMAT_NAME, f"'format' must be '{FORMAT_NAME}'")
    check.that(
        meta.get("version") == FORMAT_VERSION,
        f"unknown version {meta.get('version')!r} (this reader knows {FORMAT_VERSION})",
    )
    fps = check.number(meta.get("fps"), "fps", positive=True)
    check.that(isinstance(meta.get("rig"), str), "'rig' must be a string")
    num_times = meta.get("num_time_steps")
    check.that(isinstance(num_times, int) and num_times > 0, "'num_time_steps' must be a positive integer")
    cameras = [check.camera(c, i) for i, c in enumerate(check.list_of(meta, "cameras"))]
    check.that(len(cameras) > 0, "no cameras")
    frames = [check.frame(f, i, num_times, len(cameras), root) for i, f in enumerate(check.list_of(meta, "frames"))]
    check.that(len(frames) > 0, "no frames")
    splits = meta.get("splits")
    check.that(isinstance(splits, dict), "'splits' must be an object of frame-index lists")
    for name, indices in splits.items():
        check.that(
            isinstance(indices, list) and all(isinstance(i, int) and 0 <= i < len(frames) for i in indices),
            f"split '{name}' must list frame indices in [0, {len(frames)})",
        )
    extra = meta.get("extra", {})
    check.that(isinstance(extra, dict), "'extra' must be an object")
    params = _load_params(root / "params.npz", num_times, cameras)
    return Capture(root, fps, meta["rig"], cameras, frames, params, splits, extra)


class _Checker:
    """Validation helpers that raise CaptureError about one file."""

    def __init__(self, path: Path):
        self.path = path

    def that(self, ok: bool, problem: str) -> None:
        if not ok:
            raise CaptureError(self.path, problem)

    def number(self, value, what: str, positive: bool = False) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        self.that(
            ok and (value > 0 or not positive),
            f"'{what}' must be a {'positive ' if positive else ''}number, got {value!r}",
        )
        return float(value)

    def list_of(self, meta: dict, key: str) -> list:
        self.that(isinstance(meta.get(key), list), f"'{key}' must be a list")
        return meta[key]

    def matrix(self, value, shape: tuple[int, int], what: str) -> np.ndarray:
        try:
            m = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            m = None
        self.that(
            m is not None and m.shape == shape and bool(np.isfinite(m).all()),
            f"{what} must be a finite {shape[0]}x{shape[1]} matrix",
        )
        return m

    def camera(self, c, i: int) -> CameraInfo:
        self.that(isinstance(c, dict), f"camera {i} must be an object")
        for key in ("width", "height"):
            v = c.get(key)
            self.that(
                isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_IMAGE_SIDE,
                f"camera {i}: '{key}' must be an integer in [1, {MAX_IMAGE_SIDE}]",
            )
        k = self.matrix(c.get("K"), (3, 3), f"camera {i} K")
        self.that(
            k[0, 0] > 0 and k[1, 1] > 0 and np.allclose(k[2], [0, 0, 1]) and abs(k[1, 0]) <= 1e-6 * k[1, 1],
            f"camera {i}: K must be a pinhole matrix with positive focal lengths and last row 0 0 1",
        )
        w2c = self.matrix(c.get("world_to_cam"), (4, 4), f"camera {i} world_to_cam")
        rotation = w2c[:3, :3]
        self.that(
            np.allclose(w2c[3], [0, 0, 0, 1])
            and np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4)
            and np.linalg.det(rotation) > 0,
            f"camera {i}: world_to_cam must be a rigid transform (rotation and translation, last row 0 0 0 1)",
        )
        return CameraInfo(str(c.get("name", f"cam{i}")), k, c["width"], c["height"], w2c)

    def frame(self, f, i: int, num_times: int, num_cameras: int, root: Path) -> FrameInfo:
        self.that(isinstance(f, dict), f"frame {i} must be an object")
        time, cam = f.get("time"), f.get("camera")
        self.that(
            isinstance(time, int) and 0 <= time < num_times,
            f"frame {i}: 'time' {time!r} is not a time step in [0, {num_times})",
        )
        self.that(
            isinstance(cam, int) and 0 <= cam < num_cameras,
            f"frame {i}: 'camera' {cam!r} is not a camera index in [0, {num_cameras})",
        )
        image, mask = f.get("image"), f.get("mask")
        for what, rel in (("image", image), ("mask", mask)):
            if rel is None and what == "mask":
                continue
            inside = isinstance(rel, str) and not Path(rel).is_absolute()
            self.that(
                inside and ".." not in Path(rel).parts,
                f"frame {i}: '{what}' must be a path inside the capture, got {rel!r}",
            )
            if not (root / rel).is_file():
                raise CaptureError(root / rel, f"{what} of frame {i} is missing")
            self.that(
                is_inside(root / rel, root), f"frame {i}: '{what}' {rel!r} leads outside the capture (a symbolic link)"
            )
        return FrameInfo(time, cam, image, mask)


def is_inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symbolic link followed, lies inside the directory `root`."""
    return path.resolve().is_relative_to(root.resolve())


def _load_params(path: Path, num_times: int, cameras: list[CameraInfo]) -> RigParams:
    if not path.is_file():
        raise CaptureError(path, "params.npz is missing")
    if not is_inside(path, path.parent):
        raise CaptureError(path, "leads outside the capture (a symbolic link)")
    arrays = read_npz(path, CaptureError)
    missing = [k for k in (*PARAM_KEYS, "world_to_cam") if k not in arrays]
    if missing:
        raise CaptureError(path, f"missing arrays: {', '.join(missing)}")
    for k, a in arrays.items():
        if a.dtype.kind not in "fiu" or not np.isfinite(a).all():
            raise CaptureError(path, f"'{k}' must hold finite numbers")
    expr = arrays["expr"]
    if expr.ndim != 2 or expr.shape[0] != num_times:
        raise CaptureError(path, f"'expr' has shape {expr.shape}, capture.json says {num_times} time steps")
    try:
        params = RigParams.from_numpy({k: arrays[k] for k in PARAM_KEYS})
    except (KeyError, ValueError) as e:
        raise CaptureError(path, str(e)) from None
    w2c = np.stack([c.world_to_cam for c in cameras])  # [C, 4, 4]
    if arrays["world_to_cam"].shape != w2c.shape:
        raise CaptureError(
            path,
            f"'world_to_cam' has shape {arrays['world_to_cam'].shape}, expected {w2c.shape} for {len(cameras)} cameras",
        )
    if not np.allclose(arrays["world_to_cam"], w2c, rtol=1e-5, atol=1e-5):
        raise CaptureError(path, "'world_to_cam' disagrees with the cameras in capture.json")
    return params


class CaptureWriter:
    """Writes a capture directory frame by frame; nothing appears at `root` until `finish`."""

    def __init__(self, root: str | Path, fps: float, rig: str, cameras: list[CameraInfo], overwrite: bool = False):
        self.root = Path(root)
        self.partial = self.root.with_name(self.root.name + ".partial")
        if self.root.exists() and not overwrite:
            raise CaptureError(self.root, "already exists (pass overwrite=True to replace it)")
        check = _Checker(self.root)
        check.number(fps, "fps", positive=True)
        check.that(len(cameras) > 0, "a capture needs at least one camera")
        self.cameras = [check.camera(_camera_json(c), i) for i, c in enumerate(cameras)]
        self.fps, self.rig, self.overwrite = float(fps), rig, overwrite
        self.frames: list[FrameInfo] = []
        self._seen: set[tuple[int, int]] = set()
        if self.partial.exists():
            shutil.rmtree(self.partial)  # left by an earlier interrupted write
        (self.partial / "images").mkdir(parents=True)

    def add_frame(
        self, time: int, camera: int, image: np.ndarray, mask: np.ndarray | None = None, known: np.ndarray | None = None
    ) -> int:
        """Store image [H, W, 3] uint8 (and mask [H, W] uint8) of `camera` at `time`; frame index.
        known [H, W] bool (with a mask): the pixels inside the video the frame was cut from; where
        some are not, the mask gets a second channel that says which (`Capture.load_known`)."""
        if not 0 <= camera < len(self.cameras):
            raise CaptureError(self.root, f"camera {camera} out of range [0, {len(self.cameras)})")
        if time < 0 or (time, camera) in self._seen:
            raise CaptureError(self.root, f"time {time} of camera {camera} is negative or already added")
        info = self.cameras[camera]
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.shape != (info.height, info.width, 3):
            raise CaptureError(
                self.root,
                f"image must be uint8 [{info.height}, {info.width}, 3] "
                f"for camera '{info.name}', got {image.dtype} {list(image.shape)}",
            )
        name = image_name(time, camera)
        Image.fromarray(image).save(self.partial / "images" / name, compress_level=PNG_COMPRESS_LEVEL)
        mask_rel = None
        if mask is not None:
            mask = np.asarray(mask)
            if mask.ndim == 3 and mask.shape[-1] == 1:
                mask = mask[..., 0]
            if mask.dtype != np.uint8 or mask.shape != (info.height, info.width):
                raise CaptureError(
                    self.root, f"mask must be uint8 [{info.height}, {info.width}], got {mask.dtype} {list(mask.shape)}"
                )
            (self.partial / "masks").mkdir(exist_ok=True)
            if known is not None and not np.asarray(known).all():
                known = np.asarray(known)
                if known.shape != mask.shape:
                    raise CaptureError(
                        self.root, f"known must be [{info.height}, {info.width}], got {list(known.shape)}"
                    )
                mask = np.stack([mask, np.where(known, 255, 0).astype(np.uint8)], -1)  # L + A
            Image.fromarray(mask).save(self.partial / "masks" / name, compress_level=PNG_COMPRESS_LEVEL)
            mask_rel = f"masks/{name}"
        self._seen.add((time, camera))
        self.frames.append(FrameInfo(int(time), int(camera), f"images/{name}", mask_rel))
        return len(self.frames) - 1

    def finish(self, params: RigParams, splits: dict[str, list[int]], extra: dict | None = None) -> Capture:
        """Write params and capture.json, move the folder into place and load it back."""
        if not self.frames:
            raise CaptureError(self.root, "no frames were added")
        num_times = params.num_frames
        latest = max(f.time for f in self.frames)
        if latest >= num_times:
            raise CaptureError(
                self.root, f"frames reach time step {latest} but params have only {num_times} time steps"
            )
        for name, indices in splits.items():
            bad = [i for i in indices if not 0 <= i < len(self.frames)]
            if bad:
                raise CaptureError(
                    self.root, f"split '{name}' has frame indices {bad[:5]} outside [0, {len(self.frames)})"
                )
        w2c = np.stack([c.world_to_cam for c in self.cameras]).astype(np.float32)  # [C, 4, 4]
        np.savez(self.partial / "params.npz", **params.to_numpy(), world_to_cam=w2c)
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "fps": self.fps,
            "rig": self.rig,
            "num_time_steps": num_times,
            "cameras": [_camera_json(c, w2c[i]) for i, c in enumerate(self.cameras)],
            "frames": [vars(f) for f in self.frames],
            "splits": {k: [int(i) for i in v] for k, v in splits.items()},
            "extra": extra or {},
        }
        (self.partial / "capture.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        self._move_into_place()
        return load_capture(self.root)

    def abort(self) -> None:
        """Discard everything written so far (the `.partial` folder)."""
        shutil.rmtree(self.partial, ignore_errors=True)

    def __enter__(self) -> "CaptureWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:  # an error or an interrupt before `finish`: no partial capture stays
            self.abort()

    def _move_into_place(self) -> None:
        old = self.root.with_name(self.root.name + ".old")
        if self.root.exists():
            if not self.overwrite:
                raise CaptureError(self.root, "appeared while writing; not replacing it")
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.root, old)
        os.replace(self.partial, self.root)
        if old.exists():
            shutil.rmtree(old)


def _camera_json(c: CameraInfo, world_to_cam: np.ndarray | None = None) -> dict:
    """JSON form; `world_to_cam` overrides c's so that json and params.npz hold the same float32."""
    w2c = c.world_to_cam if world_to_cam is None else world_to_cam
    size = [int(v) if isinstance(v, numbers.Integral) else v for v in (c.width, c.height)]
    return {
        "name": c.name,
        "K": np.asarray(c.K, dtype=np.float64).tolist(),
        "width": size[0],
        "height": size[1],
        "world_to_cam": np.asarray(w2c, dtype=np.float64).tolist(),
    }
