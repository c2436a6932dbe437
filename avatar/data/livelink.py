"""Epic Live Link Face CSV recordings (ARKit face tracking from an iPhone) -> rig parameters.

File layout: a header row ``Timecode, BlendshapeCount``, the 52 ARKit blendshapes in PascalCase
(``EyeBlinkLeft`` ... ``TongueOut``), then ``HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw,
LeftEyePitch, LeftEyeRoll, RightEyeYaw, RightEyePitch, RightEyeRoll`` in radians; one row per
frame. Timecodes read ``HH:MM:SS:FF.fff`` (frame number with a sub-frame fraction).

Rotation conventions, checked on Live Link Face recordings of eye movements: positive eye pitch
comes with EyeLookDown (gaze down) and positive LeftEyeYaw with EyeLookInLeft (RightEyeYaw with
EyeLookOutRight): a gaze toward the subject's right. In rig space (y up, face toward +z, the
subject's left at +x) a downward gaze is a positive rotation about +x and a gaze toward the
subject's right (-x) a negative rotation about +y. So pitch keeps its sign and yaw flips: the
angles act as in a frame mirrored in x, which flips roll (about z) too. Each rotation is
R = R_y(-yaw) @ R_x(pitch) @ R_z(-roll) (yaw outermost), stored as axis-angle. The head columns
follow the eyes' convention; the recordings checked leave them at zero, so their signs are unverified.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from avatar.data.arkit import ARKIT_NAMES, canonical_name, name_map
from avatar.data.errors import ExpressionFileError
from avatar.data.npz import read_npz
from avatar.rig.head_rig import HeadRig
from avatar.rig.params import RigParams
from avatar.rig.torso import slow_torso_sequence

BLENDSHAPE_COLUMNS = tuple(n[0].upper() + n[1:] for n in ARKIT_NAMES)
HEAD_COLUMNS = ("HeadYaw", "HeadPitch", "HeadRoll")
LEFT_EYE_COLUMNS = ("LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll")
RIGHT_EYE_COLUMNS = ("RightEyeYaw", "RightEyePitch", "RightEyeRoll")
REQUIRED_COLUMNS = BLENDSHAPE_COLUMNS + HEAD_COLUMNS + LEFT_EYE_COLUMNS + RIGHT_EYE_COLUMNS

DEFAULT_FPS = 60.0  # Live Link Face records at 60 fps
MAX_ABS_VALUE = 1e4  # weights and angles are small; 1e30 would overflow float32 maths downstream
MAX_CSV_BYTES = 512 << 20
# Jaw x-rotation at JawOpen = 1 for rigs whose mouth opens by the jaw joint (FLAME opens wide at
# about 0.3-0.4 rad of jaw pose).
MAX_JAW_ANGLE = 0.35
_TIMECODE_RATES = (24, 25, 30, 48, 50, 60, 72, 90, 100, 120, 240)
_TIMECODE = re.compile(r"^\s*(\d+):(\d+):(\d+)[:;.](\d+(?:\.\d*)?)\s*$")


@dataclass
class LiveLinkRecording:
    path: Path
    fps: float
    blendshapes: np.ndarray  # [T, 52] float32, columns in ARKIT_NAMES order
    head: np.ndarray  # [T, 3] float32 yaw, pitch, roll (radians, Live Link convention)
    left_eye: np.ndarray  # [T, 3] float32
    right_eye: np.ndarray  # [T, 3] float32
    start: float | None = None  # the first row's timecode as seconds since midnight; None without timecodes
    timecode_rate: int | None = None  # frames a second the timecodes count (`timecode_times`)

    @property
    def num_frames(self) -> int:
        return int(self.blendshapes.shape[0])


def read_livelink_csv(path: str | Path) -> LiveLinkRecording:
    """Parse and validate a Live Link Face CSV; raises ExpressionFileError naming row/column."""
    path = Path(path)
    if not path.is_file():
        raise ExpressionFileError(path, "file not found")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise ExpressionFileError(path, f"larger than {MAX_CSV_BYTES >> 20} MiB (hours of recording); split it")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            cells, timecodes, rows = _read_rows(path, reader)
        except (csv.Error, UnicodeDecodeError) as e:
            raise ExpressionFileError(path, f"not a readable CSV file ({e})") from None
    if len(cells) < 2:
        raise ExpressionFileError(path, f"too few rows: {len(cells)} data row(s), need at least 2")
    values = _to_float(path, cells, rows)  # [T, 61]
    _check_timecodes(path, timecodes, rows)
    fps = fps_from_timecodes(timecodes) if timecodes else None
    if fps is None:
        warnings.warn(
            f"{path}: could not derive the frame rate from the timecodes; assuming {DEFAULT_FPS:g} fps", stacklevel=2
        )
        fps = DEFAULT_FPS
    values = values.astype(np.float32)
    times = timecode_times(timecodes)  # where the take sits in the day: for aligning its audio
    start, rate = (float(times[0][0]), times[1]) if times else (None, None)
    return LiveLinkRecording(
        path, fps, values[:, :52], values[:, 52:55], values[:, 55:58], values[:, 58:61], start, rate
    )


def _read_rows(path: Path, reader) -> tuple[list[list[str]], list[str], list[int]]:
    """Required cells per data row, timecodes (empty without that column), file row numbers."""
    header = next(reader, None)
    if header is None:
        raise ExpressionFileError(path, "empty file: no header row")
    index = _column_index(path, header)
    cells, timecodes, rows = [], [], []
    for fields in reader:
        if not any(s.strip() for s in fields):
            continue  # blank line, e.g. a trailing newline
        row = reader.line_num
        if len(fields) < len(header):
            raise ExpressionFileError(
                path, f"row has {len(fields)} fields, the header has {len(header)}", row, header[len(fields)].strip()
            )
        cells.append([fields[index[c]] for c in REQUIRED_COLUMNS])
        if "timecode" in index:
            timecodes.append(fields[index["timecode"]])
        rows.append(row)
    return cells, timecodes, rows


def _column_index(path: Path, header: list[str]) -> dict[str, int]:
    """Column name -> field index (names compared case-insensitively); checks required ones."""
    by_lower = {}
    for i, name in enumerate(header):
        by_lower.setdefault(name.strip().lower(), i)
    missing = [c for c in REQUIRED_COLUMNS if c.lower() not in by_lower]
    if missing:
        listed = ", ".join(f"'{c}'" for c in missing)
        raise ExpressionFileError(path, f"missing column{'s' if len(missing) > 1 else ''} {listed}", column=missing[0])
    index = {c: by_lower[c.lower()] for c in REQUIRED_COLUMNS}
    if "timecode" in by_lower:
        index["timecode"] = by_lower["timecode"]
    return index


def _to_float(path: Path, cells: list[list[str]], rows: list[int]) -> np.ndarray:
    """[T, 61] float64; the first cell that is not a finite number raises with its row/column."""
    try:
        values = np.array(cells, dtype=np.float64)
        if np.isfinite(values).all() and float(np.abs(values).max()) <= MAX_ABS_VALUE:
            return values
    except ValueError:
        pass  # some cell is not a number: the cell-by-cell pass below finds which
    values = np.empty((len(cells), len(REQUIRED_COLUMNS)))
    for r, row_cells in enumerate(cells):
        for c, text in enumerate(row_cells):
            try:
                values[r, c] = float(text)
            except ValueError:
                values[r, c] = np.nan
            if not (np.isfinite(values[r, c]) and abs(values[r, c]) <= MAX_ABS_VALUE):
                raise ExpressionFileError(
                    path,
                    f"not a finite number within ±{MAX_ABS_VALUE:g}: {text.strip()!r}",
                    rows[r],
                    REQUIRED_COLUMNS[c],
                )
    return values


def _timecode_fields(text: str) -> tuple[int, int, int, float] | None:
    """(hours, minutes, seconds, frame with its fraction) of an ``HH:MM:SS:FF(.fff)`` timecode, or
    None when `text` is not one; ValueError when it is one with a field out of range."""
    match = _TIMECODE.match(text)
    if match is None:
        return None
    whole = [match[1], match[2], match[3], match[4].split(".")[0]]
    # Sized as text first: int() refuses 4301 digits (a ValueError naming no file) and a few
    # hundred overflow the float maths below.
    numbers = [int(f.lstrip("0") or "0") if len(f.lstrip("0")) <= 3 else None for f in whole]
    limits = (24, 60, 60, _TIMECODE_RATES[-1])
    if any(n is None or n >= limit for n, limit in zip(numbers, limits)):
        shown = text.strip() if len(text.strip()) <= 32 else f"{text.strip()[:24]}... ({len(text.strip())} characters)"
        raise ValueError(
            f"timecode {shown!r} is out of range (HH:MM:SS:FF: hours below 24, minutes and seconds "
            f"below 60, frames below {limits[3]})"
        )
    return numbers[0], numbers[1], numbers[2], float(match[4])


def _check_timecodes(path: Path, timecodes: list[str], rows: list[int]) -> None:
    """Refuse, with its row, a timecode whose fields cannot be a time of day (text that is no
    timecode at all is left to fps_from_timecodes, which then falls back to DEFAULT_FPS)."""
    for text, row in zip(timecodes, rows):
        try:
            _timecode_fields(text)
        except ValueError as e:
            raise ExpressionFileError(path, str(e), row, "Timecode") from None


def timecode_seconds(text: str, rate: int | None = None) -> float | None:
    """Seconds since midnight of one ``HH:MM:SS:FF(.fff)`` timecode counting `rate` frames a second
    (None: the smallest common rate above its frame number), or None when `text` is no timecode or
    a field is out of range. Drop-frame labels (``;``) are read as wall-clock time, their purpose."""
    try:
        fields = _timecode_fields(text)
    except ValueError:
        return None
    if fields is None:
        return None
    hours, minutes, seconds, frame = fields
    if rate is None or frame >= rate:
        rate = next((r for r in _TIMECODE_RATES if r > int(frame)), None)
        if rate is None:
            return None
    return hours * 3600.0 + minutes * 60.0 + seconds + frame / rate


def timecode_times(timecodes: list[str]) -> tuple[np.ndarray, int] | None:
    """(seconds since midnight of each ``HH:MM:SS:FF(.fff)`` timecode [T], the frames a second the
    timecodes count), or None when there are none or one is not a timecode.

    The timecode's own frame rate is the smallest common rate above the largest frame number seen
    (only trusted once the seconds field has rolled over; 60 before that).
    """
    try:
        parsed = [_timecode_fields(t) for t in timecodes]
    except ValueError:
        return None  # out of range: read_livelink_csv refuses such a file before asking
    if not parsed or not all(parsed):
        return None
    hms = np.array([p[:3] for p in parsed], dtype=np.float64)  # [T, 3]
    frame = np.array([p[3] for p in parsed])  # [T]
    seconds = hms @ np.array([3600.0, 60.0, 1.0])  # [T]
    rate = int(DEFAULT_FPS)
    if np.unique(seconds).size > 1:
        rate = next((r for r in _TIMECODE_RATES if r > np.floor(frame.max())), None)
        if rate is None:
            return None
    return seconds + frame / rate, rate


def fps_from_timecodes(timecodes: list[str]) -> float | None:
    """Rows per second from ``HH:MM:SS:FF(.fff)`` timecodes (`timecode_times`), or None when they
    do not tell. Repeated timecodes and pauses longer than half a second are left out of the
    estimate.
    """
    times = timecode_times(timecodes) if len(timecodes) >= 2 else None
    if times is None:
        return None
    step = np.diff(times[0])
    step[step < -43200] += 86400  # recording ran past midnight
    step = step[(step > 0) & (step < 0.5)]
    if step.size == 0:
        return None
    fps = step.size / step.sum()
    return float(fps) if 1.0 <= fps <= 1000.0 else None


def euler_to_axis_angle(yaw_pitch_roll: np.ndarray) -> np.ndarray:
    """Live Link (yaw, pitch, roll) [T, 3] -> rig-space axis-angle [T, 3] (see module docstring)."""
    ypr = np.asarray(yaw_pitch_roll, dtype=np.float64)
    angles = np.stack([-ypr[:, 0], ypr[:, 1], -ypr[:, 2]], axis=1)  # about y, x, z
    return Rotation.from_euler("YXZ", angles).as_rotvec().astype(np.float32)


def default_jaw_from_jawopen(rig: HeadRig) -> bool:
    """Drive the jaw joint from JawOpen unless the rig's own jawOpen blendshape opens the mouth.

    Rigs without a jawOpen shape (FLAME) open the mouth only through the jaw joint. ICT's jaw
    joint reproduces its jawOpen target, so driving both would open the mouth twice. The builtin
    rig is designed to take both (its jawOpen shape and its jaw joint share the opening).
    """
    names = {canonical_name(n).lower() for n in rig.expr_names or ()}
    return rig.name == "builtin" or "jawopen" not in names


def load_arkit_map(path: str | Path, rig: HeadRig) -> np.ndarray:
    """[E_rig, 52] matrix (columns in ARKIT_NAMES order) from an .npz with 'matrix' and 'names'."""
    path = Path(path)
    data = read_npz(path, ExpressionFileError)
    try:
        matrix = np.asarray(data["matrix"], dtype=np.float32)
        names = [str(n) for n in np.asarray(data["names"]).reshape(-1)]
    except KeyError as e:
        raise ExpressionFileError(
            path, f"ARKit map needs arrays 'matrix' [E, 52] and 'names' [52]; missing {e}"
        ) from None
    except (TypeError, ValueError) as e:
        raise ExpressionFileError(path, f"'matrix' must be numbers and 'names' strings ({e})") from None
    if matrix.shape != (rig.num_expr, len(names)):
        raise ExpressionFileError(
            path,
            f"'matrix' has shape {matrix.shape}; rig '{rig.name}' "
            f"needs [{rig.num_expr}, {len(names)}] for {len(names)} names",
        )
    if not np.isfinite(matrix).all():
        raise ExpressionFileError(path, "'matrix' holds non-finite values")
    column = {canonical_name(n).lower(): i for i, n in enumerate(ARKIT_NAMES)}
    keys = [canonical_name(n).lower() for n in names]
    unknown = [n for n, k in zip(names, keys) if k not in column]
    if unknown or len(set(keys)) != len(keys):
        raise ExpressionFileError(
            path,
            f"'names' must be distinct ARKit blendshape names; "
            f"unknown: {unknown or 'none'}, {len(keys) - len(set(keys))} "
            "repeated",
        )
    full = np.zeros((rig.num_expr, len(ARKIT_NAMES)), dtype=np.float32)
    full[:, [column[k] for k in keys]] = matrix
    return full


def arkit_expression_matrix(rig: HeadRig, source: str | Path, arkit_map: str | Path | None = None) -> np.ndarray:
    """[E_rig, 52] linear map from ARKit weights to the rig's expressions (`source` names the
    file or stream in warnings and errors)."""
    if arkit_map is not None:
        return load_arkit_map(arkit_map, rig)
    if rig.expr_names is None:
        raise ExpressionFileError(
            source,
            f"rig '{rig.name}' has PCA expressions without names, so "
            "ARKit blendshapes cannot be matched by name: pass a linear map "
            "with --arkit-map FILE.npz ('matrix' [E, 52], 'names' [52])",
        )
    mapping = name_map(ARKIT_NAMES, rig.expr_names)
    # Gaze comes from the eye-rotation columns, so eyeLook* shapes the rig lacks lose nothing.
    lost = replace(mapping, unmatched_source=[n for n in mapping.unmatched_source if not n.startswith("eyeLook")])
    if lost.unmatched_source or lost.unmatched_target:
        warnings.warn(f"{source}: ARKit -> rig '{rig.name}': {lost.describe()}", stacklevel=3)
    return mapping.matrix


@dataclass(frozen=True)
class LiveLinkMapping:
    """Live Link values -> rig parameters, the one mapping of CSV rows and UDP packets alike:
    expressions through `matrix`, the jaw joint from JawOpen * MAX_JAW_ANGLE about +x (when
    `jaw_from_jawopen`), head and eye angles as rig-space axis-angle (module docstring). Shape,
    neck and translation stay zero."""

    matrix: np.ndarray  # [E, 52] ARKit weights (ARKIT_NAMES order) -> the rig's expressions
    num_shape: int
    jaw_from_jawopen: bool

    def params(self, values: np.ndarray) -> RigParams:
        """Rig parameters [T] of values [T, 61] in REQUIRED_COLUMNS order."""
        values = np.asarray(values, dtype=np.float32)
        blendshapes = values[:, :52]
        jaw = np.zeros((values.shape[0], 3), dtype=np.float32)
        if self.jaw_from_jawopen:
            jaw[:, 0] = blendshapes[:, ARKIT_NAMES.index("jawOpen")] * MAX_JAW_ANGLE
        eyes = np.concatenate(
            [euler_to_axis_angle(values[:, 55:58]), euler_to_axis_angle(values[:, 58:61])], axis=1
        )  # [T, 6]
        arrays = {
            "shape": np.zeros(self.num_shape, np.float32),
            "expr": blendshapes @ self.matrix.T,
            "jaw": jaw,
            "rotation": euler_to_axis_angle(values[:, 52:55]),
            "eyes": eyes,
        }
        return RigParams.from_numpy(arrays)


def livelink_to_params(
    recording: LiveLinkRecording,
    rig: HeadRig,
    arkit_map: str | Path | None = None,
    jaw_from_jawopen: bool | None = None,
) -> RigParams:
    """Rig parameters for every row (see `LiveLinkMapping`): expressions by name (or
    `arkit_map`), jaw, head and eyes.

    jaw_from_jawopen: also open the jaw joint from JawOpen (None: see `default_jaw_from_jawopen`).
    """
    matrix = arkit_expression_matrix(rig, recording.path, arkit_map)  # [E, 52]
    jaw = default_jaw_from_jawopen(rig) if jaw_from_jawopen is None else jaw_from_jawopen
    values = np.concatenate(
        [recording.blendshapes, recording.head, recording.left_eye, recording.right_eye], axis=1
    )  # [T, 61]
    return LiveLinkMapping(matrix, rig.num_shape, jaw).params(values)


def load_livelink_csv(
    path: str | Path, rig: HeadRig, arkit_map: str | Path | None = None, jaw_from_jawopen: bool | None = None
) -> tuple[RigParams, float]:
    """(params for every row, fps) from a Live Link Face CSV: the head's rotation shared between a
    slow torso and the neck as the stream shares it (`avatar.rig.torso.SlowTorso`)."""
    recording = read_livelink_csv(path)
    params = livelink_to_params(recording, rig, arkit_map, jaw_from_jawopen)
    return slow_torso_sequence(params, recording.fps), recording.fps
