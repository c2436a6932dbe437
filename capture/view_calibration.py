"""A calibration file's cameras as the multiview fitter takes them (`fit_views.KnownCameras`).

The file's cameras (`capture.calibration`) are re-expressed relative to its first camera, in the
rig-like frames the fitter works in (camera looking down -z, y up), and their intrinsics are
scaled to the videos' pixels when the file says its image size. The file's world unit stays
unknown: the fitter finds its scale from the head. A camera with lens distortion comes with its
`Lens`, which tracking takes out of its landmarks and crops (`capture.lens`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatar.data.errors import CalibrationError
from capture.calibration import load_calibration
from capture.fit.views import KnownCameras
from capture.lens import Lens

RIG_FROM_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])  # its own inverse
MAX_DISTORTION = 1e-4  # coefficients below this are taken as none
SAME_ASPECT = 1e-2  # relative difference of aspect ratios between the file's image size and the video's


def known_cameras(path: Path, sizes: list[tuple[int, int]]) -> tuple[KnownCameras, list[Lens | None]]:
    """The cameras of the calibration file `path`, one per video of size sizes[c] = (width, height),
    and each one's lens distortion (None: none, every coefficient under MAX_DISTORTION)."""
    views = load_calibration(path, len(sizes))
    k_mats, lenses = [], []
    for c, (view, (width, height)) in enumerate(zip(views, sizes)):
        k = view.K.astype(np.float64).copy()
        if view.width and view.height and (view.width, view.height) != (width, height):
            if abs(view.width / view.height - width / height) > SAME_ASPECT * width / height:
                raise CalibrationError(
                    path,
                    f"camera {c} ('{view.name}') is calibrated for {view.width}x"
                    f"{view.height} images, its video is {width}x{height} (another aspect ratio)",
                )
            k[:2] *= width / view.width  # the same picture at another resolution
        if not (0 < k[0, 2] < width and 0 < k[1, 2] < height):
            raise CalibrationError(
                path,
                f"camera {c} ('{view.name}') has its principal point at "
                f"({k[0, 2]:.0f}, {k[1, 2]:.0f}) px, outside its {width}x{height} video: "
                "calibrated for larger images? (a file that does not say its image size, "
                "as NeRSemble's, must be for the videos' own size)",
            )
        k_mats.append(k)
        distorted = np.abs(view.distortion).max(initial=0.0) > MAX_DISTORTION
        lenses.append(Lens(k, view.distortion.astype(np.float64)) if distorted else None)
    first = np.linalg.inv(views[0].world_to_cam)
    relative = np.stack([RIG_FROM_OPENCV @ v.world_to_cam @ first @ RIG_FROM_OPENCV for v in views])  # [C, 4, 4]
    return KnownCameras(relative, np.stack(k_mats)), lenses
