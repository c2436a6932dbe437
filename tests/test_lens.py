"""capture.lens: a calibrated camera's distortion taken out of its landmarks and crops, checked
against OpenCV's own undistortion maps."""

import cv2
import numpy as np
import pytest

from capture.crop import CropBox
from capture.lens import Lens, LensCrop

K = np.array([[300.0, 0.0, 125.5], [0.0, 305.0, 178.0], [0.0, 0.0, 1.0]])  # a 246 x 360 frame
DISTORTIONS = {
    "radial": np.array([-0.3, 0.08, 0.0, 0.0]),
    "radial and tangential": np.array([-0.25, 0.05, 0.002, -0.003, 0.01]),
    "rational": np.array([0.4, -0.05, 0.001, 0.001, 0.0, 0.05, -0.02, 0.01]),
}


@pytest.mark.parametrize("name", DISTORTIONS)
def test_undistorting_a_distorted_point_gives_it_back(name):
    lens = Lens(K, DISTORTIONS[name])
    grid = np.stack(np.meshgrid(np.linspace(0, 246, 25), np.linspace(0, 360, 31)), -1)  # [31, 25, 2] the frame
    distorted = lens.distort_points(grid)
    assert np.abs(distorted - grid).max() > 5  # a lens that matters at the corners
    np.testing.assert_allclose(lens.undistort_points(distorted), grid, atol=1e-3)


@pytest.mark.parametrize("name", DISTORTIONS)
def test_a_whole_frame_crop_is_opencvs_undistortion(name):
    """The crop of the whole frame at its own size samples the frame where OpenCV's undistortion
    map does (OpenCV's pixel centres at integers: its K is ours less half a pixel)."""
    lens = Lens(K, DISTORTIONS[name])
    size = 246
    crop = LensCrop(lens, CropBox(0.0, 57.0, float(size)), size, (246, 360))
    opencv_k = K.copy()
    opencv_k[:2, 2] -= 0.5
    new_k = opencv_k.copy()
    new_k[1, 2] -= 57.0  # the crop starts 57 rows down
    map_x, map_y = cv2.initUndistortRectifyMap(opencv_k, DISTORTIONS[name], None, new_k, (size, size), cv2.CV_32FC1)
    np.testing.assert_allclose(crop.map_x, map_x, atol=2e-3)
    np.testing.assert_allclose(crop.map_y, map_y, atol=2e-3)


def test_the_crop_marks_what_lies_outside_the_frame():
    lens = Lens(K, DISTORTIONS["radial"])
    crop = LensCrop(lens, CropBox(-40.0, -40.0, 200.0), 100, (246, 360))  # over the top-left corner
    frame = np.full((360, 246, 3), 200, np.uint8)
    image, inside = crop(frame)
    assert inside[-1, -1] and not inside[0, 0]

    # A pixel in from the edge between them (and the crop's own edge), bilinear reads one side only.
    def within(mask):
        return (
            cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
            > 0
        )

    assert (image[within(inside)] == 200).all() and (image[within(~inside)] == 0).all()
