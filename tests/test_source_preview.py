"""The source panel's preview: the tracked landmarks drawn into the camera image it uploads."""

import numpy as np
import pytest

pytest.importorskip("imgui_bundle", reason="the viewer's panels need imgui-bundle (the viewer extra)")
from viewer.panels.source_panel import LANDMARK_RGB, _mark  # noqa: E402


def test_the_landmarks_colour_their_pixels_and_nothing_else():
    image = np.zeros((20, 30, 3), np.uint8)
    points = np.array([[0.2, 0.9], [29.7, 19.5], [12.5, 7.0], [-1.0, 3.0], [30.0, 3.0], [4.0, 20.0]])
    _mark(image, points)  # the last three lie outside the image
    marked = np.argwhere(image.any(-1))
    assert marked.tolist() == [[0, 0], [7, 12], [19, 29]]
    assert (image[7, 12] == LANDMARK_RGB).all()
