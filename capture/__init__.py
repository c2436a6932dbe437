"""From raw video to a capture directory, and from other trackers' outputs to one.

Owns video/webcam frame sources, MediaPipe face landmarks and mattes, the stable head crop,
rig fitting (batched for videos, warm-started per frame for live use), the tracking overlay and
the importers. Uses `avatar.*`; nothing in `avatar` imports this package.
"""
