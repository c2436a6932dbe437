"""The real spherical harmonics of any degree (`capture.harmonics`) that carry the hair's thickness."""

import math

import torch

from avatar.splat.sh import SH_C0, sh_basis
from capture.harmonics import harmonic_degrees, real_harmonics


def _sphere(count: int) -> torch.Tensor:
    """[count, 3] nearly uniform unit directions (a Fibonacci lattice)."""
    i = torch.arange(count, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / count
    azimuth = math.pi * (1 + 5 ** 0.5) * i
    r = (1 - z * z).sqrt()
    return torch.stack([r * torch.cos(azimuth), r * torch.sin(azimuth), z], -1)


def test_the_basis_is_orthonormal_over_the_sphere():
    directions = _sphere(6000)
    basis = real_harmonics(6, directions)  # [N, 49]
    gram = basis.T @ basis * (4 * math.pi / len(directions))
    assert basis.shape == (6000, 49)
    assert torch.allclose(gram, torch.eye(49, dtype=gram.dtype), atol=2e-3)
    assert torch.allclose(basis[:, 0], torch.full_like(basis[:, 0], SH_C0))


def test_up_to_degree_three_it_spans_what_the_renderers_harmonics_span():
    """An independent implementation (3DGS's hand-written polynomials): each degree's functions
    are the same space, so a shell fitted at degree 3 could take the same shapes with either."""
    directions = _sphere(500)
    ours = real_harmonics(3, directions)
    theirs = sh_basis(3, directions)
    degrees = harmonic_degrees(3)
    for degree in range(4):
        block = degrees == degree
        q, _ = torch.linalg.qr(ours[:, block])
        residual = theirs[:, block] - q @ (q.T @ theirs[:, block])
        assert residual.norm() < 1e-8 * theirs[:, block].norm()


def test_degrees_count_two_l_plus_one_coefficients_each():
    assert harmonic_degrees(2).tolist() == [0, 1, 1, 1, 2, 2, 2, 2, 2]
    assert len(harmonic_degrees(6)) == 49
