"""What `avatar track` accepts, in a module without imports: the command line checks its arguments
against these without loading mediapipe, and `capture.track` checks library callers the same way."""

MIN_CROP, MAX_CROP = 64, 2048  # pixels: below, a face is a few pixels wide; above, memory per frame explodes
MAX_VAL_FRACTION = 0.5  # of each video's frames: with the test frames, a third at least is left to train on
