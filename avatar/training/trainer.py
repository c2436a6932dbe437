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
from typing import NamedTuple

import torch
from tqdm import tqdm

from avatar.data.atomic import atomic_path
from avatar.data.capture import Capture
from avatar.data.errors import CaptureError
from avatar.data.splits import split_cameras
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.file_checks import check_gaussians
from avatar.gaussians.mouth_cavity import add_mouth_cavity
from avatar.gaussians.pose_drivers import HeadPoseDrivers
from avatar.model import Avatar, ExpressionRange
from avatar.splat import Camera, RenderOutput
from avatar.splat.cut_region import known_region
from avatar.splat.view_cone import ViewCone
from avatar.renderer import AvatarRenderer
from avatar.rig import HeadRig, RigParams
from avatar.rig.face_region import face_triangles
from avatar.rig.cut_vertices import HeadCut
from avatar.runtime.cpu_threads import ThreadBudget
from avatar.training.behind_surface import behind_surface, surface_depth
from avatar.training.camera_colour import CameraColours
from avatar.training.config import TrainConfig
from avatar.training.densify import Densifier
from avatar.training.evaluate import composite_target, evaluate
from avatar.training.finishers import Finisher, registered_finishers
from avatar.training.floaters import FloaterFinder
from avatar.training.hair_lift import registered_hair_thickness, triangle_thickness, triangle_units
from avatar.training.frame_memory import FrameMemory, KeptOrMade, tensor_bytes
from avatar.training.image_metrics import photometric_loss
from avatar.training.mirrored import MirroredFrames, weighted
from avatar.training.optim import make_optimizer
from avatar.training.regularisers import regularisers
from avatar.training.run_log import RunLog, run_dir_for
from avatar.training.turned_views import hair_margin
from avatar.runtime.errors import InputError

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
    return torch.sort(torch.argsort(spread, descending=True)[: max(count, 0)]).values


def capture_head_cut(capture: Capture, rig: HeadRig) -> HeadCut | None:
    """The cut below the head that the capture's masks were made with (capture.track records it),
    which the trained avatar keeps for its renders; None for captures without one."""
    data = capture.extra.get("head_cut")
    if data is None:
        return None
    try:
        return HeadCut.from_dict(data, rig.num_vertices, rig.num_faces)
    except ValueError as e:
        raise CaptureError(capture.root / "capture.json", str(e)) from None


class _StoredFrame(NamedTuple):
    """One training frame as `_FrameCache` keeps it on its device."""

    image: torch.Tensor  # [H, W, 3] uint8, composited over the background
    mask: torch.Tensor | None  # [H, W, 1] uint8
    region: torch.Tensor | None  # [H, W, 1] uint8 in {0, 1}
    surface: torch.Tensor | None  # [H, W, 1] float16 metres


class _FrameCache:
    """Training targets composited over the background, their masks, the region the avatar's
    cut keeps of each (at the frame's tracked parameters: the masks were cut there) and, where
    asked, the rig's surface depth there (`behind_surface`), decoded once and kept on `device`
    (images as uint8, depths as float16) as far as `memory` allows (so a step does not wait on
    the host), decoded again when drawn beyond it (`frame_memory`)."""

    def __init__(
        self,
        capture: Capture,
        frames: list[int],
        background: torch.Tensor,
        device: torch.device,
        renderer: AvatarRenderer,
        params: RigParams,
        memory: FrameMemory,
        surfaces: bool = False,
    ):
        """background [3] on the CPU, where the frames are decoded and composited; params [T]
        every time step's tracking, on the renderer's device; surfaces: keep each frame's
        `surface_depth` too."""

        def load(f: int) -> _StoredFrame:
            mask, known = capture.load_mask_and_known(f)
            image = (composite_target(capture.load_image(f), mask, background) * 255 + 0.5).to(torch.uint8).to(device)
            mask = None if mask is None else (mask * 255 + 0.5).to(torch.uint8).to(device)
            camera = capture.camera(f)
            frame_params = params.frame(capture.frames[f].time)
            verts = renderer.poser()(frame_params) if surfaces or renderer.model.head_cut is not None else None
            region = known_region(renderer.cut_region(frame_params, camera, verts), known)
            region = None if region is None else region.to(device=device, dtype=torch.uint8)
            surface = surface_depth(renderer.model.rig, verts, camera).to(device, torch.float16) if surfaces else None
            return _StoredFrame(image, mask, region, surface)

        self.frames = KeptOrMade(frames, load, lambda value: tensor_bytes(*value), memory, "loading frames")

    def __getitem__(self, frame: int) -> torch.Tensor:
        return self.frames[frame].image.float() / 255

    def mask(self, frame: int) -> torch.Tensor | None:
        """[H, W, 1] in [0, 1], or None for a frame without a mask."""
        mask = self.frames[frame].mask
        return None if mask is None else mask.float() / 255

    def region(self, frame: int) -> torch.Tensor | None:
        """[H, W, 1] in {0, 1}: what the avatar's cut keeps of the frame, of the pixels it knows;
        None without a cut and unknown pixels."""
        region = self.frames[frame].region
        return None if region is None else region.float()

    def surface(self, frame: int) -> torch.Tensor | None:
        """[H, W, 1] metres: the rig's surface depth in the frame (`surface_depth`), or None
        when not kept."""
        surface = self.frames[frame].surface
        return None if surface is None else surface.float()


def train(
    capture: Capture,
    rig: HeadRig,
    cfg: TrainConfig,
    out: str | Path,
    resume: bool = False,
    progress: bool = True,
    log_dir: str | Path | None = None,
    tensorboard: bool = False,
    device: str | torch.device = "cpu",
    finish: Finisher | None = None,
) -> Avatar:
    """Train on `device`, write `out` (.avatar) and return the avatar it holds. With `resume`,
    continue from `out`.ckpt if it exists. The run's record (`run_log`) goes to log_dir (default:
    `out`.run/). `finish` completes the avatar before it is written; by default the finishers
    other packages register (`registered_finishers`: capture's live map)."""
    trainer = Trainer(capture, rig, cfg, Path(out), resume, log_dir, tensorboard, torch.device(device))
    return trainer.run(progress, registered_finishers(capture) if finish is None else finish)


class Trainer:
    """One training run: the model, its optimiser and densifier, the training targets and the run's
    record. `run` takes the steps from the start (or the checkpoint) to cfg.iterations; each step
    is a sequence of the named methods below."""

    def __init__(
        self,
        capture: Capture,
        rig: HeadRig,
        cfg: TrainConfig,
        out: Path,
        resume: bool,
        log_dir: str | Path | None,
        tensorboard: bool,
        device: torch.device,
    ):
        capture.check_rig(rig)
        self.train_frames = capture.splits.get("train") or []
        if not self.train_frames:
            raise InputError(f"capture {capture.root} has no training frames")
        if cfg.iterations is None:
            cfg = cfg.updated(iterations=cfg.clip_iterations(len(self.train_frames)))
            log.info("%d steps for %d training frames", cfg.iterations, len(self.train_frames))
        self.capture, self.cfg, self.out, self.device = capture, cfg, out, device
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: drawing a frame reads nothing from the device
        blend_expr = varying_expressions(capture, self.train_frames, cfg.num_blend_expr)
        train_times = [capture.frames[f].time for f in self.train_frames]
        pose = HeadPoseDrivers.from_training(capture.params.select(train_times)) if cfg.pose_offsets else None
        self.model = GaussianAvatar.on_mesh(
            rig,
            cfg.per_face,
            cfg.sh_degree,
            blend_expr,
            seed=cfg.seed,
            vertex_colors=rig.vertex_colors if cfg.colors_from_rig else None,
            pose=pose,
        ).to(device)
        self.model.head_cut = capture_head_cut(capture, rig)
        self.hair_m = self.hair_shell(capture, rig) if cfg.hair_shell else None  # [F] metres, or None
        self.lift: torch.Tensor | None = None  # [F] triangle units: where each triangle's Gaussians start
        if self.hair_m is not None:
            self.lift = (self.hair_m / triangle_units(rig)).to(device)
            with torch.no_grad():  # a checkpoint's positions replace these when resuming
                self.model.xyz[:, 2] += self.lift[self.model.parent]
        self.renderer = AvatarRenderer(self.model, cfg.background, cfg.backend)
        self.ran = self.renderer.backends()
        log.info("training on %s: blend backend %s, splat backend %s", device, self.ran["blend"], self.ran["splat"])
        self.params = capture.params.to(device=device, dtype=torch.float32)  # [T] every time step's tracking
        self.colours = CameraColours.for_training(capture, self.train_frames) if cfg.camera_colour else None
        if self.colours is not None:
            self.colours.to(device)
        self.optimizer = make_optimizer(self.model, cfg, self.colours)
        self.start = 0
        self.checkpoint = checkpoint_path(out)
        # A checkpoint resumes only the same settings on the same training cameras (`--cameras`).
        self.fingerprint = _fingerprint(cfg, split_cameras(capture, self.train_frames))
        self.densifier = Densifier(
            self.model, cfg.densify_grad_threshold, cfg.densify_size_threshold, cfg.prune_opacity, cfg.max_gaussians
        )
        if resume and self.checkpoint.is_file():
            self.start = _load_checkpoint(
                self.checkpoint,
                self.fingerprint,
                cfg,
                self.model,
                self.optimizer,
                self.colours,
                self.densifier,
                self.gen,
                device,
            )
            log.info("resumed from %s at step %d", self.checkpoint, self.start)
        self.record = RunLog(Path(log_dir) if log_dir is not None else run_dir_for(out), cfg, self.start, tensorboard)
        self.memory = FrameMemory(cfg.frame_memory_gb * 1e9)  # the targets first, then the mirrored frames
        self.targets = _FrameCache(
            capture,
            self.train_frames,
            torch.tensor(cfg.background, dtype=torch.float32),
            device,
            self.renderer,
            self.params,
            self.memory,
            surfaces=cfg.behind_reg > 0,
        )
        self.model.view_cone = self.view_cone()
        self.mirrored = self.mirrored_frames() if cfg.mirror_fraction else None
        # metres the person's matte reaches past the rig (0: no mattes to say)
        margin = hair_margin(capture, rig) if cfg.floater_reg else 0.0
        self.face = face_triangles(rig).to(device)  # [F] bool
        self.floaters = (
            FloaterFinder(self.model, capture.params.shape, margin, self.hair_m)
            if cfg.floater_reg and margin > 0
            else None
        )
        self.floating: torch.Tensor | None = None  # [N] bool, refreshed with the densification
        self.floaters_due = True
        self.background = torch.tensor(cfg.background, dtype=torch.float32, device=device)  # [3]
        self.densify_until = int(cfg.densify_until_frac * cfg.iterations)
        self.offsets_from = int(cfg.offsets_from_frac * cfg.iterations)
        self.colours_from = int(cfg.camera_colour_from_frac * cfg.iterations)
        self.lr_decay = math.log(cfg.lr_xyz_final / cfg.lr_xyz) / max(1, cfg.iterations)
        self.threads = ThreadBudget()  # CPU kernels: only the cores other processes leave free

    def hair_shell(self, capture: Capture, rig: HeadRig) -> torch.Tensor | None:
        """[F] metres each off-face triangle's Gaussians start along its normal: the hair's shell
        fitted to the training frames (`avatar.training.hair_lift`), or None (with a warning) when
        nothing registered gives one for this capture."""
        thickness = registered_hair_thickness(capture, self.train_frames, rig)
        if thickness is None:
            log.warning(
                "no hair shell for %s (no masks, no iBUG landmarks or none registered): the scalp's "
                "Gaussians start on the skull",
                capture.root,
            )
            return None
        lift = triangle_thickness(rig, thickness)
        log.info(
            "hair shell: off-face triangles lifted by %.1f mm (median), %.1f mm at most",
            1000 * lift[lift != 0].median().item() if (lift != 0).any() else 0.0,
            1000 * lift.max().item(),
        )
        return lift

    def mirrored_frames(self) -> MirroredFrames | None:
        """The training frames mirrored, or None (with a warning) for a rig that has no mirror."""
        try:
            return MirroredFrames(
                self.capture,
                self.train_frames,
                self.model,
                self.params,
                self.renderer,
                lambda f: (self.targets[f], self.targets.mask(f), self.capture.load_known(f)),
                self.memory,
            )
        except ValueError as e:
            log.warning("training without mirrored frames: %s", e)
            return None

    def camera_names(self) -> list[str] | None:
        """The names of the cameras the training frames come from, by index; None for one camera's
        video (`Capture.monocular`), whose per-frame cameras are crops of one."""
        if self.capture.monocular:
            return None
        return [self.capture.cameras[c].name for c in split_cameras(self.capture, self.train_frames)]

    def view_cone(self) -> ViewCone:
        """The directions the training frames see the head from: renders keep the view-dependent
        colour inside them (mirrored frames too: what they teach the sides the video missed is
        seen from there, as any render will see it)."""
        times = [self.capture.frames[f].time for f in self.train_frames]
        positions = torch.stack([self.capture.camera(f).position for f in self.train_frames])  # [T, 3]
        return ViewCone.of(self.model.rig, self.capture.params.select(times), positions)

    def run(self, progress: bool, finish: Finisher | None = None) -> Avatar:
        """Every remaining step, then the model completed by `finish` and written."""
        started = time.perf_counter()
        self.logged_at, self.logged_step = started, self.start
        self.bar = tqdm(
            range(self.start, self.cfg.iterations),
            initial=self.start,
            total=self.cfg.iterations,
            desc="training",
            disable=not progress,
        )
        for step in self.bar:
            self.step(step)
        self.bar.close()
        self.record.close()
        # A mouth opened wider than the video did is dark inside (after the last held-out score).
        add_mouth_cavity(self.model)
        # The person's identity: expression files drive expression and pose, never who it is.
        settings = self.cfg.to_dict() | {
            "train_seconds": time.perf_counter() - started,
            "capture": str(self.capture.root.resolve()),  # found again from any folder (avatar eval, benchmarks)
            "device": str(self.device),
            "backends_ran": self.ran,
            "train_cameras": self.camera_names(),
        }
        if self.colours is not None:
            settings["camera_colours"] = self.colours.to_dict()
        learned = ExpressionRange.of(self.params.select([self.capture.frames[f].time for f in self.train_frames]))
        avatar = Avatar(self.model, self.capture.params.shape, self.cfg.background, settings, self.cfg.backend, learned)
        if finish is not None:
            finish(avatar)
        avatar.save(self.out)
        if self.checkpoint.exists():
            self.checkpoint.unlink()
        return avatar

    def step(self, step: int) -> None:
        self.threads.update()
        self.schedule_learning_rate(step)
        frame = self.train_frames[int(torch.randint(len(self.train_frames), (1,), generator=self.gen))]
        terms, rendered, camera = self.losses(frame)
        # Drawn only when mirroring is on: runs without it keep their random sequence.
        if self.mirrored is not None and float(torch.rand(1, generator=self.gen)) < self.cfg.mirror_fraction:
            terms["mirrored"] = self.mirrored_loss(frame)
        loss = sum(terms.values())
        loss.backward()
        self.apply_gradients(step, rendered, camera)
        self.densify(step)
        self.log(step, terms, loss)
        self.evaluate(step)
        self.save_checkpoint(step)

    def schedule_learning_rate(self, step: int) -> None:
        """The means' learning rate decays exponentially from lr_xyz to lr_xyz_final."""
        for group in self.optimizer.param_groups:
            if group["name"] == "xyz":
                group["lr"] = self.cfg.lr_xyz * math.exp(self.lr_decay * step)

    def losses(self, frame: int) -> tuple[dict[str, torch.Tensor], RenderOutput, Camera]:
        """The loss terms of one training frame, its render and camera."""
        cfg = self.cfg
        time_index = self.capture.frames[frame].time
        frame_params = self.params.frame(time_index)
        camera = self.capture.camera(frame)
        # Rendered as every command renders it, with the frame's cut: Gaussians the cut hides in
        # this frame are left alone, not taught to vanish where other frames show them (a pale neck band).
        rendered, offsets = self.renderer.render_differentiable(
            frame_params, camera, self.targets.region(frame), self.background
        )
        rendered.means2d.retain_grad()
        terms = {
            "photo": photometric_loss(
                self.as_seen(frame, rendered.rgb, rendered.alpha), self.targets[frame], cfg.ssim_weight
            ),
            "reg": regularisers(self.model, cfg, offsets, self.face, self.floating_now(), self.lift),
        }
        surface = self.targets.surface(frame)
        if surface is not None:
            terms["behind"] = cfg.behind_reg * behind_surface(rendered, surface, cfg.behind_margin)
        mask = self.targets.mask(frame)
        if mask is not None and cfg.alpha_weight:
            # Background is transparency, not Gaussians painted the background's colour: those
            # show as pale blobs wherever a new pose puts them in front of the face.
            terms["alpha"] = cfg.alpha_weight * (rendered.alpha - mask).abs().mean()
        deviation = self.colours.deviation(self.camera_name(frame)) if self.colours is not None else None
        if deviation is not None:  # the reference camera has no transform to keep near the identity
            terms["colour"] = cfg.camera_colour_reg * deviation
        return terms, rendered, camera

    def camera_name(self, frame: int) -> str:
        return self.capture.cameras[self.capture.frames[frame].camera].name

    def as_seen(self, frame: int, rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """A render rgb [H, W, 3] (alpha [H, W, 1]) in the colours of `frame`'s camera (its learned
        transform, `CameraColours`), or as it is without colour correction."""
        if self.colours is None:
            return rgb
        return self.colours(rgb, alpha, self.background, self.camera_name(frame))

    def mirrored_loss(self, frame: int) -> torch.Tensor:
        """The frame mirrored left-right, as the photometric and alpha terms score it, each pixel
        weighted by how little the video saw its surface (`avatar.training.mirrored`)."""
        cfg, mirrored = self.cfg, self.mirrored[frame]
        rendered = self.renderer.render_differentiable(
            mirrored.params, mirrored.camera, mirrored.region(), self.background, mirrored.drivers
        ).output
        weights = mirrored.weights
        rgb = self.as_seen(frame, rendered.rgb, rendered.alpha)  # the mirrored image is in its camera's colours
        loss = photometric_loss(weighted(rgb, weights), mirrored.image(), cfg.ssim_weight)
        mask = mirrored.mask()
        if mask is not None and cfg.alpha_weight:
            loss = loss + cfg.alpha_weight * (weighted(rendered.alpha, weights) - mask).abs().mean()
        return loss

    def floating_now(self) -> torch.Tensor | None:
        """[N] bool: the Gaussians beyond the person (`FloaterFinder`), found again after every
        densification interval (every step would cost a KD-tree query)."""
        if self.floaters is None:
            return None
        if self.floating is None or self.floating.shape[0] != self.model.num_gaussians or self.floaters_due:
            self.floating, self.floaters_due = self.floaters(self.model), False
        return self.floating

    def apply_gradients(self, step: int, rendered: RenderOutput, camera: Camera) -> None:
        """The screen-space gradients to the densifier, then one optimiser step (offsets frozen
        during their warm-up)."""
        if step < self.densify_until and rendered.means2d.grad is not None:
            self.densifier.accumulate(rendered.means2d.grad, rendered.radii, camera.width, camera.height)
        if step < self.offsets_from:
            # The shared appearance first: offsets learnt from the start absorb what it should explain.
            for name in GaussianAvatar.OFFSETS:
                getattr(self.model, name).grad = None
        if step < self.colours_from and self.colours is not None:
            # The avatar's colours first: transforms learnt from the start absorb its first errors
            # (grey Gaussians), which differ with what each camera sees, not with the camera.
            for parameter in self.colours.parameters():
                parameter.grad = None
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def densify(self, step: int) -> None:
        cfg = self.cfg
        if (step + 1) % cfg.densify_every == 0:
            self.floaters_due = True  # Gaussians have moved (and maybe been added): mark floaters anew
        if cfg.densify_from <= step < self.densify_until and (step + 1) % cfg.densify_every == 0:
            stats = self.densifier.step(self.model, self.optimizer, self.gen)
            self.bar.set_postfix(n=stats["total"])

    def log(self, step: int, terms: dict[str, torch.Tensor], loss: torch.Tensor) -> None:
        if (step + 1) % self.cfg.log_every:
            return
        now = time.perf_counter()
        values = {f"loss_{k}": float(v.detach()) for k, v in terms.items()} | {"loss_total": float(loss.detach())}
        rate = (step + 1 - self.logged_step) / max(now - self.logged_at, 1e-9)
        self.record.scalars(step + 1, values | {"gaussians": self.model.num_gaussians, "steps_per_second": rate})
        self.logged_at, self.logged_step = now, step + 1
        self.bar.set_postfix(loss=f"{values['loss_total']:.4f}", n=self.model.num_gaussians)

    def evaluate(self, step: int) -> None:
        """Every eval_every steps: PSNR and SSIM on (some of) the held-out frames, recorded."""
        cfg, capture = self.cfg, self.capture
        if not cfg.eval_every or (step + 1) % cfg.eval_every or "test" not in capture.splits:
            return
        split = "val" if capture.splits.get("val") else "test"
        m = evaluate(
            self.renderer,
            capture,
            split,
            cfg.eval_frames,
            save_images=self.record.images_dir(step + 1),
            colours=self.colours,
        )
        self.record.scalars(step + 1, {f"{split}_psnr": m["psnr"], f"{split}_ssim": m["ssim"]})
        self.record.images(step + 1, split)
        log.info(
            "step %d: held-out PSNR %.2f dB, SSIM %.4f on %d of the %d %s frames (avatar eval scores all)",
            step + 1,
            m["psnr"],
            m["ssim"],
            m["frames"],
            len(capture.splits[split]),
            split,
        )

    def save_checkpoint(self, step: int) -> None:
        cfg = self.cfg
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.iterations:
            _save_checkpoint(
                self.checkpoint,
                self.fingerprint,
                step + 1,
                self.model,
                self.optimizer,
                self.colours,
                self.densifier,
                self.gen,
            )


# Settings that may change between an interrupted run and its resumption.
_RESUMABLE_CHANGES = {
    "iterations",
    "eval_every",
    "eval_frames",
    "checkpoint_every",
    "log_every",
    "backend",
    "frame_memory_gb",
}


def _fingerprint(cfg: TrainConfig, cameras: list[int]) -> str:
    """The settings and training cameras a checkpoint must have been written with to resume."""
    kept = {k: v for k, v in cfg.to_dict().items() if k not in _RESUMABLE_CHANGES}
    return json.dumps(kept | {"train_cameras": cameras}, sort_keys=True)


def _save_checkpoint(
    path: Path, fingerprint: str, step: int, model: GaussianAvatar, optimizer, colours, densifier, gen
) -> None:
    state = {
        "step": step,
        "config": fingerprint,
        "parent": model.parent,
        "optimizer": optimizer.state_dict(),
        "densify_stats": [densifier.grad_sum, densifier.count],
        "generator": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        "tensors": {k: v.detach() for k, v in model.attribute_tensors().items()},
        "camera_colours": colours.state_dict() if colours else None,
    }
    with atomic_path(path) as partial:
        torch.save(state, partial)


def _load_checkpoint(
    path: Path,
    fingerprint: str,
    cfg: TrainConfig,
    model: GaussianAvatar,
    optimizer,
    colours,
    densifier,
    gen,
    device: torch.device,
) -> int:
    try:
        # Restricted unpickler (tensors and containers only); tensors land on the run's device,
        # the generator states are CPU byte tensors and go back there.
        state = torch.load(path, weights_only=True, map_location=device)
    except Exception as e:
        raise InputError(f"{path}: unreadable training checkpoint ({e}); delete it to start over") from e
    if not isinstance(state, dict) or state.get("config") != fingerprint:
        raise InputError(
            f"{path}: checkpoint was written with different training settings or cameras; resume "
            "with the same preset and options, or delete it to start over"
        )
    try:
        step = state["step"]
        if not isinstance(step, int) or not 0 < step <= cfg.iterations:
            raise InputError(f"step {step!r} is not in 1..{cfg.iterations}")
        tensors = state["tensors"]
        check_gaussians(
            {f"gaussians.{k}": v for k, v in tensors.items()} | {"gaussians.parent": state["parent"]},
            model.rig,
            model.sh_degree,
            model.num_drivers,
        )
        model.replace_gaussians(tensors, state["parent"])
        for group in optimizer.param_groups:
            if group["name"] in tensors:
                group["params"] = [getattr(model, group["name"])]
        optimizer.load_state_dict(state["optimizer"])
        if colours is not None:
            colours.load_state_dict(state["camera_colours"])
        densifier.grad_sum, densifier.count = state["densify_stats"]
        gen.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError, ValueError) as e:
        raise InputError(
            f"{path}: not a usable checkpoint of this run ({type(e).__name__}: {e}); delete it to start over"
        ) from None
    return step
