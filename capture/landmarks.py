"""MediaPipe face landmarks (478 points with irises) and selfie mattes, offline.

Both models ship inside the `mediapipe==0.10.21` wheel (its legacy "solutions" API), so nothing
is downloaded. Points come back in pixels of the frame that was passed in.
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 478  # 468 face mesh points + 2 x 5 iris points


def _mediapipe():
    try:
        import mediapipe as mp
    except ImportError as e:  # an install without the tracking dependencies
        raise ImportError("face tracking needs 'mediapipe==0.10.21' (pip install mediapipe==0.10.21)") from e
    return mp


class FaceLandmarker:
    """478 landmarks of the most prominent face per frame; `video=True` tracks between frames."""

    def __init__(self, video: bool = True, min_confidence: float = 0.5):
        mp = _mediapipe()
        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=not video, max_num_faces=1,
                                                     refine_landmarks=True,
                                                     min_detection_confidence=min_confidence,
                                                     min_tracking_confidence=min_confidence)

    def detect(self, rgb: np.ndarray) -> np.ndarray | None:
        """[478, 3] float32 (x, y in pixels, z in pixels relative to the face centre) or None."""
        height, width = rgb.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(rgb))
        if not result.multi_face_landmarks:
            return None
        points = result.multi_face_landmarks[0].landmark
        out = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)  # [478, 3] normalised
        if out.shape[0] != NUM_LANDMARKS:
            return None
        return out * np.array([width, height, width], dtype=np.float32)

    def close(self) -> None:
        self._mesh.close()


class SelfieMatte:
    """Person-vs-background alpha per frame: MediaPipe's selfie segmentation, its landscape model.

    Of the wheel's two selfie models, the general (square, 256 x 256) one calls dark wall beside
    dark hair "person" with about half its confidence, and through that wall takes in what stands
    there: an object beside the head, joined to the hair by a band of wall, which the avatar then
    learns as a smear beside the head. The landscape model (144 x 256) leaves such a band and what
    lies beyond it out (figures: docs/results.md, "The landscape selfie matte" and "Mattes").
    """

    LANDSCAPE = 1  # SelfieSegmentation's model_selection: 0 general, 1 landscape

    def __init__(self):
        mp = _mediapipe()
        self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=self.LANDSCAPE)

    def alpha(self, rgb: np.ndarray) -> np.ndarray:
        """[H, W] float32 in [0, 1]."""
        mask = self._seg.process(np.ascontiguousarray(rgb)).segmentation_mask
        return np.clip(mask, 0.0, 1.0).astype(np.float32)

    def close(self) -> None:
        self._seg.close()
