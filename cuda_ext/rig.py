"""One frame of posed rig vertices on the CPU kernel: `torch.ops.avatar_ext.rig_pose` (csrc/rig_cpu.cpp).

The same maths as avatar.rig.lbs (blendshapes + FLAME-style LBS), forward only: callers use it
where no gradient must reach the rig or its parameters, and torch's LBS elsewhere.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cuda_ext import load


def pose_vertices(v_template: Tensor, shapedirs: Tensor, exprdirs: Tensor, posedirs: Tensor, j_regressor: Tensor,
                  parents: Tensor, lbs_weights: Tensor, shape: Tensor, expr: Tensor, pose: Tensor,
                  translation: Tensor) -> Tensor:
    """Posed vertices [V, 3] of one frame, CPU tensors of one float dtype.

    v_template [V, 3], shapedirs [V, 3, S], exprdirs [V, 3, E], posedirs [V, 3, 9 (J - 1)],
    j_regressor [J, V], parents [J] int64 (parents[0] = -1, parents[j] < j), lbs_weights [V, J];
    shape [S], expr [E], pose [J, 3] axis-angle, translation [3].
    Raises cuda_ext.ExtensionUnavailable when the CPU module cannot load.
    """
    load("cpu")
    return torch.ops.avatar_ext.rig_pose(*(t.contiguous() for t in (
        v_template, shapedirs, exprdirs, posedirs, j_regressor, parents, lbs_weights, shape, expr, pose, translation)))
