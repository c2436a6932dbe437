"""ARKit blendshape names and the by-name mapping onto a rig's expression names.

Three spellings of the same shape occur: Live Link Face CSV headers (PascalCase,
``EyeBlinkLeft``), ARKit itself (camelCase, ``eyeBlinkLeft``) and ICT-FaceKit / the builtin rig
(``eyeBlink_L``). `canonical_name` reduces all three to the ICT spelling. Sides are the
subject's own left/right in every spelling. ``jawLeft``/``mouthLeft`` (and Right) are motions
toward a side, not sided shapes, so they keep their names.

`name_map` builds a linear map [E_target, E_source] from names:
exact (canonical) match -> 1; a target ``X_L``/``X_R`` of a source with one both-sided ``X``
(ARKit ``browInnerUp`` -> ICT ``browInnerUp_L``/``_R``) -> both sides driven by ``X``; a target ``X``
of a source pair ``X_L``/``X_R`` -> their average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The 52 ARKit blendshapes in the column order of Live Link Face CSV files.
ARKIT_NAMES = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRight",
    "mouthLeft", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

# Motions toward a side rather than one side of a symmetric shape.
DIRECTIONAL_NAMES = frozenset({"jawLeft", "jawRight", "mouthLeft", "mouthRight"})

_SIDE_SUFFIXES = (("Left", "_L"), ("Right", "_R"))


def pascal_to_arkit(name: str) -> str:
    """Live Link Face header -> ARKit name: ``EyeBlinkLeft`` -> ``eyeBlinkLeft``."""
    return name[:1].lower() + name[1:]


def arkit_to_ict(name: str) -> str:
    """ARKit name -> ICT-FaceKit / builtin name: ``eyeBlinkLeft`` -> ``eyeBlink_L``."""
    if name in DIRECTIONAL_NAMES:
        return name
    for side, suffix in _SIDE_SUFFIXES:
        if name.endswith(side) and len(name) > len(side):
            return name[: -len(side)] + suffix
    return name


def canonical_name(name: str) -> str:
    """Any of the three spellings -> the ICT spelling (``EyeBlinkLeft`` -> ``eyeBlink_L``)."""
    return arkit_to_ict(pascal_to_arkit(name.strip()))


@dataclass
class NameMap:
    matrix: np.ndarray  # [E_target, E_source] float32: target = matrix @ source
    unmatched_source: list[str]  # source names that drive nothing
    unmatched_target: list[str]  # target names that nothing drives (stay at 0)

    def describe(self) -> str:
        """One line listing what did not match (empty when everything did)."""
        parts = []
        if self.unmatched_source:
            parts.append(f"unused source names: {', '.join(self.unmatched_source)}")
        if self.unmatched_target:
            parts.append(f"target names left at 0: {', '.join(self.unmatched_target)}")
        return "; ".join(parts)


def name_map(source_names: list[str] | tuple[str, ...],
             target_names: list[str] | tuple[str, ...]) -> NameMap:
    """Linear map from weights named `source_names` to weights named `target_names`.

    Names compare by canonical spelling, case-insensitively.
    """
    key = lambda n: canonical_name(n).lower()  # noqa: E731
    source_index = {key(n): i for i, n in enumerate(source_names)}
    matrix = np.zeros((len(target_names), len(source_names)), dtype=np.float32)
    unmatched_target = []
    for t, name in enumerate(target_names):
        k = key(name)
        pair = [source_index.get(k + "_l"), source_index.get(k + "_r")]
        if k in source_index:
            matrix[t, source_index[k]] = 1.0
        elif k[-2:] in ("_l", "_r") and k[:-2] in source_index:
            matrix[t, source_index[k[:-2]]] = 1.0
        elif None not in pair:
            matrix[t, pair] = 0.5
        else:
            unmatched_target.append(name)
    unused = [n for i, n in enumerate(source_names) if not matrix[:, i].any()]
    return NameMap(matrix, unused, unmatched_target)
