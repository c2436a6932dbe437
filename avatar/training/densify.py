"""Binding-aware densification and pruning: 3DGS's clone/split/prune where every child keeps
its parent triangle, and a triangle never loses its last Gaussian (GaussianAvatars)."""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.gaussians.model import GaussianAvatar
from avatar.gaussians.rotations import quat_to_matrix


class Densifier:
    def __init__(self, model: GaussianAvatar, grad_threshold: float, size_threshold: float,
                 prune_opacity: float, max_gaussians: int):
        self.grad_threshold = grad_threshold
        self.size_threshold = size_threshold
        self.prune_opacity = prune_opacity
        self.max_gaussians = max_gaussians
        self.reset(model.num_gaussians, model.xyz.device)

    def reset(self, n: int, device: torch.device | str = "cpu") -> None:
        """Zero statistics for n Gaussians, kept on `device` (the model's: accumulating them
        every step then costs no host synchronisation)."""
        self.grad_sum = torch.zeros(n, device=device)  # [N] summed NDC-scaled screen gradient norms
        self.count = torch.zeros(n, device=device)  # [N] number of renders where the Gaussian was visible

    @torch.no_grad()
    def accumulate(self, means2d_grad: Tensor, radii: Tensor, width: int, height: int) -> None:
        """Screen-space gradients in pixels ([N, 2], or [1, N, 2] from one camera) -> NDC units
        (as 3DGS thresholds assume); radii [N] (or [1, N]), 0 where not visible. Masks are
        multiplied in, not indexed with: boolean indexing would wait for the device."""
        g = means2d_grad.detach().reshape(-1, 2)
        norm = torch.stack([g[:, 0] * (width / 2), g[:, 1] * (height / 2)], -1).norm(dim=-1)  # [N]
        visible = (radii.detach().reshape(-1) > 0).to(norm.dtype)  # [N]
        self.grad_sum += norm * visible
        self.count += visible

    @torch.no_grad()
    def step(self, model: GaussianAvatar, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> dict:
        n = model.num_gaussians
        mean_grad = (self.grad_sum / self.count.clamp_min(1)).cpu()
        big = torch.exp(model.log_scale).amax(-1).cpu() > self.size_threshold
        grow = mean_grad >= self.grad_threshold
        room = max(0, self.max_gaussians - n)
        clone = torch.nonzero(grow & ~big).flatten()[:room]
        split = torch.nonzero(grow & big).flatten()[: max(0, room - clone.numel())]
        keep = model.opacity().cpu() >= self.prune_opacity
        keep[split] = False  # a split Gaussian is replaced by its two children
        keep |= _last_of_face(model.parent.cpu(), keep)
        sources = torch.cat([torch.nonzero(keep).flatten(), clone, split, split])
        is_new = torch.cat([torch.zeros(int(keep.sum()), dtype=torch.bool),
                            torch.ones(clone.numel() + 2 * split.numel(), dtype=torch.bool)])
        tensors = {name: t.detach()[:, sources] if name in model.OFFSETS else t.detach()[sources]
                   for name, t in model.attribute_tensors().items()}
        _split_children(model, tensors, split, start=int(keep.sum()) + clone.numel(), generator=generator)
        old_params = {name: p for name, p in model.attribute_tensors().items()}
        model.replace_gaussians(tensors, model.parent[sources.to(model.parent.device)])
        _remap_optimizer(optimizer, old_params, model, sources, is_new)
        self.reset(model.num_gaussians, model.xyz.device)
        return {"cloned": clone.numel(), "split": split.numel(), "pruned": int((~keep).sum()) - split.numel(),
                "total": model.num_gaussians}


def _last_of_face(parent: Tensor, keep: Tensor) -> Tensor:
    """[N] bool: for faces that would lose all their Gaussians, keep the first one."""
    kept_per_face = torch.zeros(int(parent.max()) + 1 if parent.numel() else 0, dtype=torch.long)
    kept_per_face.index_add_(0, parent, keep.long())
    orphan_face = kept_per_face[parent] == 0
    first = torch.zeros_like(keep)
    idx = torch.nonzero(orphan_face).flatten()
    if idx.numel():
        faces, first_pos = torch.unique(parent[idx], return_inverse=True)
        chosen = torch.full((faces.numel(),), parent.numel(), dtype=torch.long)
        chosen.scatter_reduce_(0, first_pos, idx, reduce="amin")
        first[chosen] = True
    return first


def _split_children(model: GaussianAvatar, tensors: dict[str, Tensor], split: Tensor, start: int,
                    generator: torch.Generator) -> None:
    """Children of a split: sampled from the parent Gaussian, scales shrunk by 1.6 (3DGS)."""
    k = split.numel()
    if k == 0:
        return
    rows = torch.arange(start, start + 2 * k)
    scale = torch.exp(tensors["log_scale"][rows])  # [2k, 3]
    rot = quat_to_matrix(tensors["rot"][rows])  # [2k, 3, 3]
    sample = torch.randn(2 * k, 3, generator=generator).to(scale) * scale
    tensors["xyz"][rows] += torch.einsum("nij,nj->ni", rot, sample)
    tensors["log_scale"][rows] -= torch.log(torch.tensor(1.6))


def _remap_optimizer(optimizer: torch.optim.Optimizer, old_params: dict, model: GaussianAvatar,
                     sources: Tensor, is_new: Tensor) -> None:
    """Carry Adam moments over to surviving Gaussians; children start from zero moments."""
    new_params = model.attribute_tensors()
    for group in optimizer.param_groups:
        name = group["name"]
        if name not in new_params:
            continue
        old, new = old_params[name], new_params[name]
        state = optimizer.state.pop(old, None)
        group["params"] = [new]
        if not state:
            continue
        dim = 1 if name in model.OFFSETS else 0
        for key in ("exp_avg", "exp_avg_sq"):
            moved = state[key].index_select(dim, sources.to(state[key].device))
            mask_shape = [1] * moved.dim()
            mask_shape[dim] = -1
            state[key] = moved * (~is_new).to(moved).view(mask_shape)
        optimizer.state[new] = state
