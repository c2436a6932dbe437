"""`ExpressionBasis`: what drives the blendshape offsets, as a linear map of the expression weights.

The offsets' expression drivers are coefficients = basis (expr - mean), one per basis row. Two
kinds of basis:
- a selection of expressions (`selection`): rows one-hot, mean 0, so a driver is one expression's
  weight as it is;
- a PCA of the training frames' expressions (`pca`): the mean training expression subtracted and
  the weights projected onto the principal directions (3D Gaussian Blendshapes' advice for
  driving). Offsets then cover every expression the video moves, the base Gaussians show the mean
  expression, and a combination the video never showed maps into the directions it did.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ExpressionBasis:
    mean: Tensor  # [E] subtracted from the weights first
    basis: Tensor  # [K, E] one driver per row

    @property
    def num_components(self) -> int:
        return int(self.basis.shape[0])

    @classmethod
    def selection(cls, indices: Tensor, num_expr: int) -> "ExpressionBasis":
        """Drivers = the weights of expressions `indices` [K] (distinct, below num_expr)."""
        basis = torch.zeros(indices.numel(), num_expr)
        basis[torch.arange(indices.numel()), indices.long()] = 1.0
        return cls(torch.zeros(num_expr), basis)

    @classmethod
    def pca(cls, expr: Tensor, variance: float, max_components: int | None = None) -> "ExpressionBasis":
        """The principal directions of expr [T, E] (training frames) that explain `variance` (a
        fraction) of its spread, at most max_components, as orthonormal rows: a coefficient is in
        weight units, so a direction the video hardly moves in drives its offsets weakly."""
        expr = expr.detach().double().cpu()
        mean = expr.mean(0)  # [E]
        centred = expr - mean
        if expr.shape[0] < 2 or float(centred.abs().max()) == 0.0:
            return cls(mean.float(), torch.zeros(0, expr.shape[1]))
        _, s, vh = torch.linalg.svd(centred, full_matrices=False)  # s [R], vh [R, E]
        explained = torch.cumsum(s ** 2, 0) / (s ** 2).sum()
        k = int(torch.searchsorted(explained, torch.tensor(min(variance, 1.0), dtype=explained.dtype))) + 1
        k = min(k, int((s > s[0] * 1e-6).sum()), max_components if max_components is not None else k)
        # sign: the largest entry of each direction positive, so a basis is reproducible
        sign = torch.sign(vh[:k].gather(1, vh[:k].abs().argmax(1, keepdim=True)))  # [K, 1]
        return cls(mean.float(), (sign * vh[:k]).float())

    def selected(self) -> Tensor | None:
        """The expression indices [K] when this basis is a selection (one-hot rows, mean 0), else None."""
        if bool((self.mean != 0).any()) or not bool(((self.basis == 0) | (self.basis == 1)).all()):
            return None
        if self.basis.numel() and not bool((self.basis.sum(1) == 1).all()):
            return None
        return self.basis.argmax(1) if self.basis.numel() else torch.zeros(0, dtype=torch.long)

    def coefficients(self, expr: Tensor) -> Tensor:
        """expr [T, E] -> drivers [T, K]."""
        return (expr - self.mean.to(expr)) @ self.basis.to(expr).T
