"""Pixels a frame does not know: where a crop ran past the edge of its video, the capture's mask
says so (a second channel), and training and evaluation make the render background there as the
target is, instead of teaching or scoring the avatar against a background nobody saw."""

import shutil

import numpy as np
import torch
from PIL import Image

from avatar.data.capture import CaptureWriter, load_capture
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.renderer import AvatarRenderer
from avatar.rig.builtin import build_builtin_head
from avatar.splat.cut_region import known_region
from avatar.training.evaluate import evaluate


def test_the_mask_carries_the_known_pixels_only_where_some_are_not(tmp_path):
    capture = load_capture(
        make_synthetic_capture(build_builtin_head(), tmp_path / "c", 2, 1, size=32, progress=False).root
    )
    with CaptureWriter(tmp_path / "w", capture.fps, "builtin", capture.cameras) as writer:
        image = np.full((32, 32, 3), 90, np.uint8)
        mask = np.tile(np.arange(32, dtype=np.uint8)[None] * 8, (32, 1))  # [32, 32] a ramp
        known = np.ones((32, 32), bool)
        known[:, :5] = False  # the crop ran past the video's left edge
        writer.add_frame(0, 0, image, mask, known=known)
        writer.add_frame(1, 0, image, mask, known=np.ones((32, 32), bool))
        writer.add_frame(2, 0, image, mask)
        written = writer.finish(capture.params.select([0, 1, 2]), {"train": [0, 1, 2]})
    assert Image.open(written.root / written.frames[0].mask).mode == "LA"
    assert Image.open(written.root / written.frames[1].mask).mode == "L"  # every pixel known: as before
    np.testing.assert_allclose(written.load_mask(0)[..., 0].numpy(), mask / 255.0, atol=1e-6)
    np.testing.assert_array_equal(written.load_known(0)[..., 0].numpy(), known.astype(np.float32))
    assert written.load_known(1) is None and written.load_known(2) is None


def test_known_region_clips_to_the_cut_and_the_known_pixels():
    cut = torch.ones(4, 4, 1)
    cut[0] = 0
    known = torch.ones(4, 4, 1)
    known[:, 0] = 0
    assert known_region(None, None) is None
    assert known_region(cut, None) is cut and known_region(None, known) is known
    both = known_region(cut, known)
    assert both.sum() == 9 and both[0].sum() == 0 and both[:, 0].sum() == 0


def test_evaluation_scores_unknown_pixels_as_background(tmp_path):
    """The same frames, once with a strip marked unknown where the target is background: there
    the render is made background too, so only the strip's error goes away."""
    rig = build_builtin_head()
    capture = make_synthetic_capture(rig, tmp_path / "c", 2, 2, size=48, progress=False)
    marked = tmp_path / "marked"
    shutil.copytree(capture.root, marked)
    for frame in capture.frames:
        path = marked / frame.mask
        alpha = np.array(Image.open(path).convert("L"))
        known = np.full(alpha.shape, 255, np.uint8)
        known[:, :24] = 0  # the left half past the video's edge: neither person nor background known
        alpha[:, :24] = 0  # as tracking writes the matte there
        Image.fromarray(np.stack([alpha, known], -1)).save(path)
        plain = capture.root / frame.mask
        Image.fromarray(alpha).save(plain)  # the same matte without the known channel
    renderer = AvatarRenderer(GaussianAvatar.on_mesh(rig, per_face=1), (1.0, 1.0, 1.0), "torch")
    with torch.no_grad():
        scored_plain = evaluate(renderer, load_capture(capture.root), "test")
        scored_known = evaluate(renderer, load_capture(marked), "test")
    assert scored_known["psnr"] > scored_plain["psnr"] + 1.0  # the untrained head covers the left half too
    assert scored_known["psnr_foreground"] == scored_plain["psnr_foreground"]  # the person's pixels: unchanged


def test_training_renders_clip_to_the_known_pixels(tmp_path):
    """The trainer's per-frame region (what its renders are clipped to) leaves out the unknown
    pixels, with or without a cut, and the mirrored frames' region the flipped ones."""
    from avatar.training.frame_memory import FrameMemory
    from avatar.training.mirrored import MirroredFrames
    from avatar.training.trainer import _FrameCache

    rig = build_builtin_head()
    capture = make_synthetic_capture(rig, tmp_path / "c", 2, 1, size=48, progress=False)
    for frame in capture.frames:
        alpha = np.array(Image.open(capture.root / frame.mask).convert("L"))
        known = np.full(alpha.shape, 255, np.uint8)
        known[:, :10] = 0
        Image.fromarray(np.stack([alpha, known], -1)).save(capture.root / frame.mask)
    capture = load_capture(capture.root)
    model = GaussianAvatar.on_mesh(rig, per_face=1)
    renderer = AvatarRenderer(model, (1.0, 1.0, 1.0), "torch")
    frames = capture.splits["train"]
    targets = _FrameCache(
        capture, frames, torch.ones(3), torch.device("cpu"), renderer, capture.params, FrameMemory(float("inf"))
    )
    region = targets.region(frames[0])  # no cut on this model: the known pixels alone
    assert region is not None and region[:, :10].sum() == 0 and region[:, 10:].min() == 1
    mirrored = MirroredFrames(
        capture, frames, model, capture.params, renderer, lambda f: (targets[f], targets.mask(f), capture.load_known(f))
    )
    half = mirrored[frames[0]].region()  # [24, 24]: flipped, the unknown strip is on the right
    assert half[:, -5:].sum() == 0 and half[:, :19].min() == 1
