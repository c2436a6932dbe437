"""A generic identity basis for rigs that ship without one (ICT-FaceKit's shared copy).

Face proportions differ between people far more than tracking can ignore: without any identity
freedom a generic mesh cannot match a person's landmarks to better than several millimetres.
When a rig has no identity PCA, this basis stands in: smooth displacement fields that are
polynomials of degree 1 and 2 in the rest position (per axis: scale, shear, bend; 9 monomials x 3
axes = 27 components), normalised so that a coefficient of 1 moves the head's extreme points by
`UNIT_M`. Rigid parts (eyeballs) are translated with their centre rather than deformed.
"""

from __future__ import annotations

import torch
from torch import Tensor

UNIT_M = 0.01  # displacement at the head's extent per unit coefficient (1 cm)


def polynomial_identity_basis(v_template: Tensor, rigid_groups: list[Tensor] = ()) -> Tensor:
    """[V, 3, 27] displacement basis on rest vertices [V, 3].

    rigid_groups: vertex-index tensors whose members move together (by the displacement at the
    group's centroid), e.g. each eyeball.
    """
    centre = (v_template.amax(0) + v_template.amin(0)) / 2
    extent = (v_template.amax(0) - v_template.amin(0)).max() / 2
    monomials = _monomials((v_template - centre) / extent)  # [V, 9]
    for group in rigid_groups:
        group_centre = ((v_template[group].mean(0) - centre) / extent)[None]  # [1, 3]
        monomials[group] = _monomials(group_centre)
    num_vertices, num_terms = monomials.shape
    basis = torch.zeros(num_vertices, 3, 3 * num_terms, dtype=v_template.dtype)
    for axis in range(3):
        basis[:, axis, axis * num_terms:(axis + 1) * num_terms] = monomials * UNIT_M
    return basis


def _monomials(u: Tensor) -> Tensor:
    """[N, 9]: x, y, z, x^2, y^2, z^2, xy, yz, zx of normalised positions [N, 3]."""
    x, y, z = u.unbind(-1)
    return torch.stack([x, y, z, x * x, y * y, z * z, x * y, y * z, z * x], dim=-1)
