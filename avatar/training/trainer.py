"""`train()`: fit a GaussianAvatar to a capture directory; checkpoints and resumes.

Everything a step touches lives on the run's device: the model and its rig, the optimiser state,
the densification statistics, the rig parameters and the training targets (decoded once, kept
as uint8). A step reads nothing back to the host: the frame is drawn from a CPU generator, the
cameras reach the kernels as host numbers, and losses are read only every `log_every` steps.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from avatar.atomic import atomic_path
from avatar.cpu_threads import ThreadBudget
from avatar.data.capture import Capture
from avatar.data.errors import CaptureError
from avatar.data.expressions import save_expression_file
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.file_checks import check_gaussians
from avatar.gaussians.io import save_avatar
from avatar.renderer import AvatarRenderer
from avatar.rig import HeadRig, RigParams
from avatar.rig.head_cut import HeadCut
from avatar.training.config import TrainConfig
from avatar.training.densify import Densifier
from avatar.training.evaluate import composite_target, evaluate
from avatar.training.image_metrics import photometric_loss
from avatar.training.optim import make_optimizer
from avatar.training.param_refiner import ParamRefiner
from avatar.training.run_log import RunLog, run_dir_for

log = logging.getLogger("avatar")


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".ckpt")


def varying_expressions(capture: Capture, frames: list[int], count: int | None) -> torch.Tensor | None:
    """Indices of the `count` expressions whose tracked weights vary most over `frames` (None:
    all): offsets for an expression the video hardly moves could only learn noise."""
    expr = capture.params.expr[[capture.frames[f].time for f in frames]]  # [T, E]
    if count is None or count >= expr.shape[1]:
        return None
    spread = expr.std(0) if len(frames) > 1 else expr.abs()[0]
    return torch.sort(torch.argsort(spread, descending=True)[:max(count, 0)]).values


def capture_head_cut(capture: Capture, rig: HeadRig) -> HeadCut | None:
    """The cut below the head that the capture's masks were made with (capture.track records it),
    which the trained avatar keeps for its renders; None for captures without one."""
    data = capture.extra.get("head_cut")
    if data is None:
        return None
    try:
        return HeadCut.from_dict(data, rig.num_vertices)
    except ValueError as e:
        raise CaptureError(capture.root / "capture.json", str(e)) from None


def refined_params_path(out: Path) -> Path:
    """Where `--refine-params` writes the refined per-time-step rig parameters (expression file)."""
    return out.with_name(out.stem + ".refined.npz")


def _regularisers(model: GaussianAvatar, cfg: TrainConfig, offsets: torch.Tensor) -> torch.Tensor:
    """Stay near the parent triangle, stay small, and keep the blendshape offsets this frame
    applies (offsets [N, 14]) small: offsets fitted to few expression combinations otherwise
    absorb anything that co-varies with them and break on unseen combinations."""
    far = torch.relu(model.xyz.norm(dim=-1) - cfg.xyz_reg_threshold).mean()
    big = torch.relu(torch.exp(model.log_scale).amax(-1) - cfg.scale_reg_threshold).mean()
    applied = offsets.pow(2).sum(-1).mean()
    return cfg.xyz_reg * far + cfg.scale_reg * big + cfg.offset_reg * applied


class _FrameCache:
    """Training targets composited over the background, their masks, and the region the
    avatar's cut keeps of each (at the frame's tracked parameters: the masks were cut there),
    decoded once and kept as uint8 on `device`, so a training step never waits on the host."""

    def __init__(self, capture: Capture, frames: list[int], background: torch.Tensor, device: torch.device,
                 renderer: AvatarRenderer, params: RigParams):
        """background [3] on the CPU, where the frames are decoded and composited; params [T]
        every time step's tracking, on the renderer's device."""
        self.images, self.masks, self.regions = {}, {}, {}
        for f in tqdm(frames, desc="loading frames", leave=False, disable=None):
            image = composite_target(capture, f, background)
            self.images[f] = (image * 255 + 0.5).to(torch.uint8).to(device)
            mask = capture.load_mask(f)
            self.masks[f] = None if mask is None else (mask * 255 + 0.5).to(torch.uint8).to(device)
            region = renderer.cut_region(params.frame(capture.frames[f].time), capture.camera(f))
            self.regions[f] = None if region is None else region.to(torch.uint8)

    def __getitem__(self, frame: int) -> torch.Tensor:
        return self.images[frame].float() / 255

    def mask(self, frame: int) -> torch.Tensor | None:
        """[H, W, 1] in [0, 1], or None for a frame without a mask."""
        mask = self.masks[frame]
        return None if mask is None else mask.float() / 255

    def region(self, frame: int) -> torch.Tensor | None:
        """[H, W, 1] in {0, 1}: what the avatar's cut keeps of the frame; None without a cut."""
        region = self.regions[frame]
        return None if region is None else region.float()


def train(capture: Capture, rig: HeadRig, cfg: TrainConfig, out: str | Path, resume: bool = False,
          progress: bool = True, log_dir: str | Path | None = None, tensorboard: bool = False,
          device: str | torch.device = "cpu") -> GaussianAvatar:
    """Train on `device` and write `out` (.avatar). With `resume`, continue from `out`.ckpt if it
    exists. The run's record (`run_log`) goes to log_dir (default: `out`.run/)."""
    out = Path(out)
    device = torch.device(device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: drawing a frame reads nothing from the device
    train_frames = capture.splits.get("train") or []
    if not train_frames:
        raise ValueError(f"capture {capture.root} has no training frames")
    blend_expr = varying_expressions(capture, train_frames, cfg.num_blend_expr)
    model = GaussianAvatar.on_mesh(rig, cfg.per_face, cfg.sh_degree, blend_expr, seed=cfg.seed,
                                   vertex_colors=rig.vertex_colors if cfg.colors_from_rig else None).to(device)
    model.head_cut = capture_head_cut(capture, rig)
    renderer = AvatarRenderer(model, cfg.background, cfg.backend)
    ran = renderer.backends()
    log.info("training on %s: blend backend %s, splat backend %s", device, ran["blend"], ran["splat"])
    params = capture.params.to(device=device, dtype=torch.float32)  # [T] every time step's tracking
    refiner = ParamRefiner(params) if cfg.refine_params else None
    optimizer = make_optimizer(model, cfg, refiner)
    start = 0
    ckpt = checkpoint_path(out)
    densifier = Densifier(model, cfg.densify_grad_threshold, cfg.densify_size_threshold, cfg.prune_opacity,
                          cfg.max_gaussians)
    if resume and ckpt.is_file():
        start = _load_checkpoint(ckpt, cfg, model, optimizer, refiner, densifier, gen, device)
        log.info("resumed from %s at step %d", ckpt, start)
    run = RunLog(Path(log_dir) if log_dir is not None else run_dir_for(out), cfg, start, tensorboard)
    targets = _FrameCache(capture, train_frames, torch.tensor(cfg.background, dtype=torch.float32), device,
                          renderer, params)
    background = torch.tensor(cfg.background, dtype=torch.float32, device=device)
    densify_until = int(cfg.densify_until_frac * cfg.iterations)
    decay = math.log(cfg.lr_xyz_final / cfg.lr_xyz) / max(1, cfg.iterations)
    threads = ThreadBudget()  # CPU kernels: only the cores other processes leave free
    started = time.perf_counter()
    logged_at, logged_step = started, start
    bar = tqdm(range(start, cfg.iterations), initial=start, total=cfg.iterations, desc="training",
               disable=not progress)
    for step in bar:
        threads.update()
        for group in optimizer.param_groups:
            if group["name"] == "xyz":
                group["lr"] = cfg.lr_xyz * math.exp(decay * step)
        frame = train_frames[int(torch.randint(len(train_frames), (1,), generator=gen))]
        time_index = capture.frames[frame].time
        frame_params = refiner.frame(time_index) if refiner else params.frame(time_index)
        camera = capture.camera(frame)
        # Rendered as every command renders it, with the frame's cut: Gaussians the cut hides in
        # this frame are left alone, not taught to vanish where other frames show them (a pale neck band).
        rendered, offsets = renderer.render_differentiable(frame_params, camera, targets.region(frame), background)
        rendered.means2d.retain_grad()
        terms = {"photo": photometric_loss(rendered.rgb, targets[frame], cfg.ssim_weight),
                 "reg": _regularisers(model, cfg, offsets)}
        mask = targets.mask(frame)
        if mask is not None and cfg.alpha_weight:
            # Background is transparency, not Gaussians painted the background's colour: those
            # show as pale blobs wherever a new pose puts them in front of the face.
            terms["alpha"] = cfg.alpha_weight * (rendered.alpha - mask).abs().mean()
        if refiner is not None:
            terms["params"] = cfg.params_reg * refiner.deviation(time_index)
        loss = sum(terms.values())
        loss.backward()
        if step < densify_until and rendered.means2d.grad is not None:
            densifier.accumulate(rendered.means2d.grad, rendered.radii, camera.width, camera.height)
        if step < cfg.offsets_from:
            # The shared appearance first: offsets learnt from the start absorb what it should explain.
            for name in GaussianAvatar.OFFSETS:
                getattr(model, name).grad = None
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cfg.densify_from <= step < densify_until and (step + 1) % cfg.densify_every == 0:
            stats = densifier.step(model, optimizer, gen)
            bar.set_postfix(n=stats["total"])
        if (step + 1) % cfg.log_every == 0:
            now = time.perf_counter()
            values = {f"loss_{k}": float(v.detach()) for k, v in terms.items()} | {"loss_total": float(loss.detach())}
            run.scalars(step + 1, values | {"gaussians": model.num_gaussians,
                                            "steps_per_second": (step + 1 - logged_step) / max(now - logged_at, 1e-9)})
            logged_at, logged_step = now, step + 1
            bar.set_postfix(loss=f"{values['loss_total']:.4f}", n=model.num_gaussians)
        if cfg.eval_every and (step + 1) % cfg.eval_every == 0 and "test" in capture.splits:
            split = "val" if capture.splits.get("val") else "test"
            m = evaluate(renderer, capture, split, cfg.eval_frames, save_images=run.images_dir(step + 1))
            run.scalars(step + 1, {f"{split}_psnr": m["psnr"], f"{split}_ssim": m["ssim"]})
            run.images(step + 1, split)
            log.info("step %d: held-out PSNR %.2f dB, SSIM %.4f on %d of the %d %s frames (avatar eval scores all)",
                     step + 1, m["psnr"], m["ssim"], m["frames"], len(capture.splits[split]), split)
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.iterations:
            _save_checkpoint(ckpt, cfg, step + 1, model, optimizer, refiner, densifier, gen)
    bar.close()
    run.close()
    # The person's identity: expression files drive expression and pose, never who it is.
    config = cfg.to_dict() | {"train_seconds": time.perf_counter() - started, "capture": str(capture.root),
                              "identity_shape": capture.params.shape.tolist(), "device": str(device),
                              "backends_ran": ran}
    save_avatar(model, out, config)
    if refiner is not None:
        # The refined tracking is worth keeping: it replays the training frames as fitted.
        save_expression_file(refined_params_path(out), refiner.refined(), capture.fps, rig.expr_names)
    if ckpt.exists():
        ckpt.unlink()
    return model


# Settings that may change between an interrupted run and its resumption.
_RESUMABLE_CHANGES = {"iterations", "eval_every", "eval_frames", "checkpoint_every", "log_every", "backend"}


def _fingerprint(cfg: TrainConfig) -> str:
    return json.dumps({k: v for k, v in cfg.to_dict().items() if k not in _RESUMABLE_CHANGES}, sort_keys=True)


def _save_checkpoint(path: Path, cfg: TrainConfig, step: int, model: GaussianAvatar, optimizer, refiner, densifier,
                     gen) -> None:
    state = {"step": step, "config": _fingerprint(cfg), "parent": model.parent, "optimizer": optimizer.state_dict(),
             "densify_stats": [densifier.grad_sum, densifier.count],
             "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
             "tensors": {k: v.detach() for k, v in model.attribute_tensors().items()},
             "refiner": refiner.state_dict() if refiner else None}
    with atomic_path(path) as partial:
        torch.save(state, partial)


def _load_checkpoint(path: Path, cfg: TrainConfig, model: GaussianAvatar, optimizer, refiner, densifier, gen,
                     device: torch.device) -> int:
    try:
        # Restricted unpickler (tensors and containers only); tensors land on the run's device,
        # the generator states are CPU byte tensors and go back there.
        state = torch.load(path, weights_only=True, map_location=device)
    except Exception as e:
        raise ValueError(f"{path}: unreadable training checkpoint ({e}); delete it to start over") from e
    if not isinstance(state, dict) or state.get("config") != _fingerprint(cfg):
        raise ValueError(f"{path}: checkpoint was written with different training settings; resume with the "
                         "same preset and options, or delete it to start over")
    try:
        step = state["step"]
        if not isinstance(step, int) or not 0 < step <= cfg.iterations:
            raise ValueError(f"step {step!r} is not in 1..{cfg.iterations}")
        tensors = state["tensors"]
        check_gaussians({f"gaussians.{k}": v for k, v in tensors.items()} | {"gaussians.parent": state["parent"]},
                        model.rig, model.sh_degree, model.num_drivers)
        model.replace_gaussians(tensors, state["parent"])
        for group in optimizer.param_groups:
            if group["name"] in tensors:
                group["params"] = [getattr(model, group["name"])]
        optimizer.load_state_dict(state["optimizer"])
        if refiner is not None and state["refiner"] is not None:
            refiner.load_state_dict(state["refiner"])
        densifier.grad_sum, densifier.count = state["densify_stats"]
        gen.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError, ValueError) as e:
        raise ValueError(f"{path}: not a usable checkpoint of this run ({type(e).__name__}: {e}); "
                         "delete it to start over") from None
    return step
