"""Parametric head rigs in one FLAME-structured container (`HeadRig`) with FLAME LBS.

Loaders: `flame.py` (FLAME 2020/2023 .pkl/.npz, no chumpy), `ict.py` (ICT-FaceKit),
`builtin.py` (procedural head, always available). `load_rig(spec)` picks one from a
``builtin | flame:PATH | ict:DIR`` string. `RigPoser` (poser.py) poses one frame fast for
rendering. Imports nothing outside `avatar.rig` but cuda_ext (the poser's kernel).
"""

from avatar.rig.head_rig import HeadRig
from avatar.rig.params import RigParams

__all__ = ["HeadRig", "RigParams"]
