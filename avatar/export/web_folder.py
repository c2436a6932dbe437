"""`export_web(avatar, folder, sources)`: a static folder any web server (or phone browser behind
one) opens, no Python at run time:

    index.html, player.js   the player (web/src, bundled by `npm run build` into avatar/web/player/)
    avatar.webavatar        the avatar (avatar.export.web_format: rig, Gaussians, 8-bit offsets),
                            its Gaussians in level order: the full avatar and a coarser level of
                            detail, a prefix of them (avatar.export.web_levels)
    sequences/NAME.bin      each --expr source: float32 rows [T, E + 18] of the avatar's own
                            parameters (expr E, jaw 3, neck 3, rotation 3, eyes 6, translation 3),
                            exactly what `avatar render` would pose it with
    manifest.json           what the player loads: the files, the levels of detail (Gaussians,
                            PSNR against the full avatar), the framing of the front camera, the
                            sequences, and the Live Link mapping for CSVs dropped on the page

The folder is written as FOLDER.partial and renamed when complete.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from avatar.data.atomic import atomic_folder
from avatar.data.arkit import ARKIT_NAMES
from avatar.data.livelink import (
    MAX_JAW_ANGLE,
    REQUIRED_COLUMNS,
    arkit_expression_matrix,
    default_jaw_from_jawopen,
    load_arkit_map,
)
from avatar.model import Avatar
from avatar.export.web_format import write_web_avatar
from avatar.export.web_levels import WEB_KEEP_FRACTIONS, in_level_order
from avatar.splat.framing import FRAMING_FOV_Y_DEG, head_target
from avatar.web import PLAYER_DIR, PLAYER_FILES
from avatar.rig import RigParams

SEQUENCE_KEYS = ("expr", "jaw", "neck", "rotation", "eyes", "translation")
MANIFEST_VERSION = 1


class PlayerMissingError(RuntimeError):
    """The built player is not in the package (a source checkout whose web/ was never built)."""


def export_web(
    avatar: Avatar,
    folder: str | Path,
    sources: list[str | Path] | None = None,
    arkit_map: str | Path | None = None,
    name: str | None = None,
    keep_fractions: Sequence[float] = WEB_KEEP_FRACTIONS,
) -> dict:
    """Write the player's folder for `avatar` with one sequence per source (expression file or
    capture directory, posed as `Avatar.params` poses them) and, besides the full avatar, a level
    of detail per keep fraction (its most contributing Gaussians; none: one level); returns the
    manifest."""
    missing = [f for f in PLAYER_FILES if not (PLAYER_DIR / f).is_file()]
    if missing:
        raise PlayerMissingError(
            f"the web player is not built ({', '.join(missing)} missing in {PLAYER_DIR}): "
            "run `npm ci && npm run build` in web/"
        )
    folder = Path(folder)
    sequences = [_sequence(avatar, Path(source), arkit_map) for source in sources or []]
    _unique_names(sequences)
    ordered, levels = in_level_order(avatar, keep_fractions)
    with atomic_folder(folder) as partial:
        sizes = write_web_avatar(ordered, partial / "avatar.webavatar", levels=levels)
        for f in PLAYER_FILES:
            shutil.copyfile(PLAYER_DIR / f, partial / f)
        if sequences:
            (partial / "sequences").mkdir()
        listed = []
        for sequence in sequences:
            file = f"sequences/{sequence['name']}.bin"
            (partial / file).write_bytes(sequence.pop("rows").astype("<f4").tobytes())
            listed.append(sequence | {"file": file})
        centre, extent = head_target(avatar.rig)
        manifest = {
            "format": "avatar-web-player",
            "version": MANIFEST_VERSION,
            "name": name or folder.name,
            "avatar": "avatar.webavatar",
            "avatar_bytes": sizes["total"],
            "num_gaussians": avatar.model.num_gaussians,
            "levels": levels,
            "camera": {"target": centre.tolist(), "extent": extent, "fov_y_deg": FRAMING_FOV_Y_DEG},
            "sequence_keys": list(SEQUENCE_KEYS),
            "sequences": listed,
            "livelink": _livelink_mapping(avatar, arkit_map),
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def sequence_rows(params: RigParams) -> np.ndarray:
    """[T, E + 18] float32: each frame's values in SEQUENCE_KEYS order."""
    return np.concatenate([getattr(params, k).detach().cpu().float().numpy() for k in SEQUENCE_KEYS], axis=1)


def _sequence(avatar: Avatar, source: Path, arkit_map: str | Path | None) -> dict:
    params, fps = avatar.params(source, arkit_map)
    stem = source.name if source.is_dir() else source.stem
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem) or "sequence"
    return {
        "name": safe,
        "source": str(source),
        "fps": float(fps),
        "frames": params.num_frames,
        "rows": sequence_rows(params),
    }


def _unique_names(sequences: list[dict]) -> None:
    seen: dict[str, int] = {}
    for sequence in sequences:
        base = sequence["name"]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            sequence["name"] = f"{base}_{seen[base]}"


def _livelink_mapping(avatar: Avatar, arkit_map: str | Path | None) -> dict:
    """How the page reads and maps a dropped Live Link CSV, as avatar.data.livelink does: its
    columns, the matrix [E, 52] row-major, the jaw joint from JawOpen, and whether to clamp into
    the avatar's range."""
    rig = avatar.rig
    with warnings.catch_warnings():  # which ARKit names the rig lacks matters when a CSV is played, not here
        warnings.simplefilter("ignore")
        matrix = (
            load_arkit_map(arkit_map, rig)
            if arkit_map is not None
            else arkit_expression_matrix(rig, "a Live Link CSV dropped on the web player")
        )
    return {
        "columns": list(REQUIRED_COLUMNS),
        "jaw_open": ARKIT_NAMES.index("jawOpen"),
        "matrix": np.asarray(matrix, np.float32).reshape(-1).tolist(),
        "jaw_from_jawopen": default_jaw_from_jawopen(rig),
        "max_jaw_angle": MAX_JAW_ANGLE,
        "clamp": avatar.expression_range is not None,
    }
