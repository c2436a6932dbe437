"""Fitting the rig to a video's landmarks (and pixels):

    setup.py          what tracking fits for a rig: free expressions, the jaw, landmark weights
    landmark_rig.py   the rig evaluated at the embedded landmark points only (fast)
    silhouette.py     the face's outline as a sliding contour
    video.py          batched fitting of whole videos: one identity, one focal length per video
    views.py          one head seen by several synchronized cameras, cameras fitted with it
    photometric.py    refinement against the pixels after the landmark fit
    live.py           per-frame fitting for live driving, warm-started from the last frame
"""
