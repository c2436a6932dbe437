"""The offsets' drivers as a basis of the expression weights: a selection of expressions gives
them as they are; a PCA of the training expressions covers every direction the video moves in
few drivers (in weight units), zero at the mean expression."""

from types import SimpleNamespace

import torch

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.expression_basis import ExpressionBasis
from avatar.gaussians.io import load_avatar, save_avatar
from avatar.training.config import load_config
from avatar.training.trainer import offset_drivers
from tiny_rig import make_tiny_rig


def _three_factor_expressions(frames: int = 200, num_expr: int = 8, seed: int = 0) -> torch.Tensor:
    """expr [T, E]: three hidden factors mixed into E weights, a resting face and a little noise."""
    g = torch.Generator().manual_seed(seed)
    factors = torch.randn(frames, 3, generator=g) * torch.tensor([0.3, 0.2, 0.1])  # [T, 3]
    mixing = torch.randn(3, num_expr, generator=g)  # [3, E]
    return 0.4 + factors @ mixing + 1e-4 * torch.randn(frames, num_expr, generator=g)


def test_a_selection_drives_with_the_weights_as_they_are():
    basis = ExpressionBasis.selection(torch.tensor([2, 0]), 4)
    expr = torch.rand(5, 4)
    assert torch.equal(basis.coefficients(expr), expr[:, [2, 0]])
    assert basis.selected().tolist() == [2, 0]
    assert ExpressionBasis.selection(torch.zeros(0, dtype=torch.long), 4).selected().tolist() == []


def test_pca_keeps_the_directions_the_expressions_move_in():
    expr = _three_factor_expressions()
    basis = ExpressionBasis.pca(expr, variance=0.999)
    assert basis.num_components == 3 and basis.selected() is None
    coefficients = basis.coefficients(expr)  # [T, 3]
    torch.testing.assert_close(coefficients.mean(0), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(basis.basis @ basis.basis.T, torch.eye(3), atol=1e-5, rtol=0)  # orthonormal rows
    spread = coefficients.std(0)  # in weight units, largest first
    assert bool((spread[:-1] >= spread[1:]).all()) and float(spread[-1]) > 0.05
    torch.testing.assert_close(basis.coefficients(expr.mean(0, keepdim=True)), torch.zeros(1, 3), atol=1e-5, rtol=0)
    # the three drivers say everything about the weights
    rebuilt = basis.mean + coefficients @ basis.basis
    torch.testing.assert_close(rebuilt, expr, atol=1e-3, rtol=0)
    # fewer components for less variance, and never more than asked for
    assert ExpressionBasis.pca(expr, variance=0.5).num_components == 1
    assert ExpressionBasis.pca(expr, variance=0.999, max_components=2).num_components == 2


def test_pca_of_expressions_that_never_move_has_no_components():
    assert ExpressionBasis.pca(torch.full((10, 4), 0.3), 0.95).num_components == 0
    assert ExpressionBasis.pca(torch.rand(1, 4), 0.95).num_components == 0


def test_training_drives_the_offsets_by_pca_when_asked_and_the_file_keeps_it(tmp_path):
    expr = _three_factor_expressions(num_expr=2, frames=30)
    capture = SimpleNamespace(params=SimpleNamespace(expr=expr), frames=[SimpleNamespace(time=t) for t in range(30)])
    frames = list(range(30))
    selected = offset_drivers(capture, frames, load_config("mono-phone", num_blend_expr=1))
    assert isinstance(selected, torch.Tensor) and selected.numel() == 1  # the selection, as before
    basis = offset_drivers(capture, frames, load_config("mono-phone", expr_pca_variance=0.99, num_blend_expr=12))
    assert isinstance(basis, ExpressionBasis) and basis.num_components == 2
    model = GaussianAvatar.on_mesh(make_tiny_rig(), blend_expr=basis)
    assert model.num_drivers == 2 + 3 and model.blend_expr is None
    params = model.rig.zero_params(30)
    params.expr, params.jaw = expr, torch.rand(30, 3)
    torch.testing.assert_close(model.drivers(params), torch.cat([basis.coefficients(expr), params.jaw], -1))
    save_avatar(model, tmp_path / "m.avatar", {})
    loaded, _ = load_avatar(tmp_path / "m.avatar")
    assert torch.equal(loaded.drivers(params), model.drivers(params))
