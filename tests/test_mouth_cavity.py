"""The mouth's cavity (avatar.gaussians.mouth_cavity): dark, opaque Gaussians deep behind the lips
that a trained avatar gets, so a mouth opened wider than its video did is dark inside."""

import copy

import numpy as np
import pytest
import torch

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import load_avatar
from avatar.gaussians.mouth_cavity import (
    OUTER_LIPS,
    add_mouth_cavity,
    cavity_parents,
    cavity_triangles,
    mouth_opening,
)
from avatar.renderer import AvatarRenderer
from avatar.rig.builtin import build_builtin_head
from avatar.splat.framing import camera_path
from tiny_rig import make_tiny_rig

SIZE = 192


def _luminance(rgb: torch.Tensor) -> np.ndarray:
    return (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]).numpy()


def _open_and_closed(rig, jaw: float = 0.35):
    closed = rig.zero_params(1)
    opened = rig.zero_params(1)
    opened.jaw[..., 0] = jaw
    return opened, closed


def test_the_cavity_lies_behind_the_lips_inside_their_outline():
    rig = build_builtin_head("low")
    cavity = cavity_triangles(rig)
    assert 20 < int(cavity.sum()) < rig.num_faces // 20  # the mouth's inside, a small part of the head
    verts = rig.v_template.double()
    lips = rig.landmarks(verts[None].to(rig.lmk_bary.dtype))[0][OUTER_LIPS].double()
    centroids = verts[rig.faces[cavity]].mean(1)
    assert (centroids[:, 2] < lips[:, 2].mean() - 0.008).all()  # behind the front teeth
    assert (centroids[:, 0].abs() < lips[:, 0].abs().max()).all()  # between the mouth's corners
    # A rig without iBUG landmarks (nor a mouth): nothing.
    assert not cavity_triangles(make_tiny_rig()).any()


def test_the_cavity_is_added_opaque_dark_and_without_offsets():
    rig = build_builtin_head("low")
    model = GaussianAvatar.on_mesh(rig, per_face=1, vertex_colors=rig.vertex_colors)
    before = copy.deepcopy(model)
    added = add_mouth_cavity(model)
    n = before.num_gaussians
    assert added > 0 and model.num_gaussians == n + added
    for name, value in before.attribute_tensors().items():  # the avatar's own Gaussians untouched
        kept = getattr(model, name)[:, :n] if name in GaussianAvatar.OFFSETS else getattr(model, name)[:n]
        assert torch.equal(kept, value), name
    assert cavity_triangles(rig)[model.parent[n:]].all()
    assert (model.opacity()[n:] > 0.98).all()
    colour = 0.5 + 0.28209479177387814 * model.sh_dc[n:, 0]  # SH_C0 * dc + 0.5
    assert float(torch.quantile(torch.from_numpy(_luminance(colour.detach())), 0.5)) < 0.3  # a dark inside
    for name in GaussianAvatar.OFFSETS:
        assert not getattr(model, name)[:, n:].any(), name  # they follow their triangles only
    tiny = GaussianAvatar.on_mesh(make_tiny_rig(), per_face=1)
    assert add_mouth_cavity(tiny) == 0 and tiny.num_gaussians == make_tiny_rig().num_faces


def test_an_opened_mouth_is_dark_inside_and_a_closed_one_unchanged():
    """The state training leaves: the mouth's inside hardly seen, its Gaussians nearly transparent
    and lit like skin. Opened, the mouth then shows the head's far side from within; with the
    cavity, a dark inside. Closed, the lips hide it."""
    rig = build_builtin_head("low")
    model = GaussianAvatar.on_mesh(rig, per_face=2, vertex_colors=rig.vertex_colors, opacity=0.99)
    unseen = cavity_triangles(rig)[model.parent]
    with torch.no_grad():
        model.opacity_logit[unseen] = -4.0
        model.sh_dc[unseen] = 0.9
    sealed = copy.deepcopy(model)
    add_mouth_cavity(sealed)
    camera = camera_path(rig, "front", SIZE, 1)(0)
    opened, closed = _open_and_closed(rig)
    opening = mouth_opening(rig, opened, camera)
    assert opening.sum() > 50  # the premise: the jaw opens the mouth

    def render(m, params):
        return AvatarRenderer(m, (1.0, 1.0, 1.0), "cpu").render(params, camera).rgb.clamp(0, 1)

    before = _luminance(render(model, opened))[opening].mean()
    after = _luminance(render(sealed, opened))[opening].mean()
    assert before > 0.45 and after < 0.3, (before, after)
    shut = (render(model, closed) - render(sealed, closed)).pow(2).mean()
    assert 10 * torch.log10(1 / shut.clamp_min(1e-12)) > 40


def test_a_trained_avatar_has_the_cavity(real_avatar):
    """`avatar train` adds it after the last step: the saved avatar's last Gaussians."""
    model, _ = load_avatar(real_avatar)
    parent = cavity_parents(model.rig)  # what add_mouth_cavity appends
    added = parent.numel()
    if not added:
        pytest.skip(f"the {model.rig.name} rig has no mouth interior")
    last = model.parent[-added:]
    assert cavity_triangles(model.rig)[last].all() and (model.opacity()[-added:] > 0.98).all()
    assert torch.equal(parent, last)
