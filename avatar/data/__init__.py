"""Data formats on disk: everything the engine reads or writes besides models and rigs.

- `capture.py`: capture directories (images, masks, cameras, per-time-step rig params), v1.
- `expressions.py`: expression files (.npz/.json, Live Link Face .csv) -> `RigParams` + fps;
  `livelink.py` parses the CSVs, `arkit.py` holds ARKit names and by-name mapping.
- `video.py`: H.264 mp4 writing and rotation-aware decoding through PyAV.
- `synthetic.py`, `synthetic_motion.py`: synthetic captures of a rig with known parameters.
- `glb.py`: a glTF 2.0 document and its binary buffer packed as a .glb (accessors dense or
  sparse, exact min / max), knowing nothing of avatars.
- `errors.py`: one ValueError subclass per format, naming the file and the problem.
May import `avatar.rig` and `avatar.splat`; never `capture`, `viewer` or `avatar.cli`.
"""
