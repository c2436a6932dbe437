"""`DetailSwitch`: the avatar the render worker draws, full or a level of detail, and why.

While renders of the full avatar fit the frame budget (the source's frame period), it is drawn;
where the median of the last BUDGET_FRAMES renders at a size misses it, the finest level of detail
predicted to fit is drawn at that size from then on (that median times the level's render cost,
its render time over the full avatar's as the build timed them; the coarsest where none is), and
where that one misses it too, the next predicted to fit, from its own renders' median (the levels
are KEEP_FRACTIONS of the Gaussians). A level is never left for a finer one: a prediction that
misses costs BUDGET_FRAMES more renders, one that undershoots only detail no display shows
(MIN_PSNR_DB). At the size they were measured at, the coarsest level
whose renders differ from the full avatar's by less than a display's 8-bit rounding
(INVISIBLE_PSNR_DB) is drawn anyway: there it only saves time, which a live view spends as
latency. The levels are built when the viewer starts, on a thread of its own while the live
tracker calibrates (`avatar.renderer.lod`: the Gaussians that make the least of the avatar's
images dropped; their contributions taken at CONTRIBUTION_SIZE pixels, once for all levels), and
measured against the full avatar on evaluation frames (the held-out frames of its training
capture when it is on this machine, else a synthetic motion of its rig) seen by the window's first
camera and a turned one, at the window's render size. A level that costs more than its PSNR
floor, MIN_PSNR_DB, is never drawn. The stats panel shows which avatar is drawn and what each
level costs.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
from collections import deque
from pathlib import Path

import torch

from avatar.gaussians import GaussianAvatar
from avatar.splat.camera import Camera
from avatar.splat.framing import head_target
from avatar.renderer.lod import KEEP_FRACTIONS, BuildStopped, LevelOfDetail, levels_of_detail
from avatar.rig import RigParams
from viewer.worker import name_os_thread

log = logging.getLogger("avatar")

BUDGET_FRAMES = 15  # renders behind each decision
MIN_PSNR_DB = 40.0  # a level of detail that costs more than this is not drawn
# Worst-frame PSNR against the full avatar above which a level of detail is drawn even within
# the budget: rounding to 8 bits alone (uniform error of half a level) is 58.9 dB.
INVISIBLE_PSNR_DB = 60.0
SEEN_FRAMES, EVALUATION_FRAMES = 12, 4
# Pixels of the contributions' renders: at 128 the Gaussians that show at 512 are misjudged (the
# level of detail's worst evaluation frame far worse than at 256), and 256 costs about a second.
CONTRIBUTION_SIZE = 256


class DetailSwitch:
    def __init__(
        self,
        model: GaussianAvatar,
        identity: torch.Tensor,
        background: tuple[float, float, float],
        budget_s: float | None,
        capture: str | None,
    ):
        """budget_s: the frame budget (None: always the full avatar); capture: the avatar's
        training capture (config's `capture`), for its evaluation frames."""
        self.model, self.identity, self.background = model, identity, background
        self.budget_s, self.capture = budget_s, capture
        self.levels: list[LevelOfDetail] = []  # built and within MIN_PSNR_DB, finest first
        self.status = "no level of detail" if budget_s is None else "building levels of detail"
        # (size, drawn index: 0 the full avatar, i levels[i - 1]) -> its recent renders (ms)
        self._recent: dict[tuple[int, int], deque[float]] = {}
        # (size, index) whose renders missed the budget -> the median of those renders (ms)
        self._missed: dict[tuple[int, int], float] = {}
        self._measured_size: int | None = None  # the render size the levels were measured at
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, camera: Camera) -> None:
        """Build the levels of detail in the background, measured with `camera` (the window's first)."""
        if self.budget_s is not None:
            self._thread = threading.Thread(target=self._build, args=(camera,), name="level of detail")
            self._thread.start()

    def stop(self) -> None:
        """Stop a build still running and wait for its thread: one left running in torch's kernels
        while the interpreter exits aborts the process."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def drawn_level(self, size: int) -> LevelOfDetail | None:
        """The level of detail drawn at this render size (None: the full avatar)."""
        index = self._index(size)
        return self.levels[index - 1] if index else None

    def drawn(self, size: int) -> str:
        """What is drawn at this render size, and what the levels of detail are (or why none)."""
        index = self._index(size)
        if not index:
            return f"full avatar; {self.status}"
        level = self.levels[index - 1]
        return f"level of detail {index} of {len(self.levels)} ({self._why(size)}): {level.describe()}"

    def model_for(self, size: int) -> GaussianAvatar:
        """The avatar to draw at this render size."""
        level = self.drawn_level(size)
        return self.model if level is None else level.model

    def _index(self, size: int) -> int:
        """What is drawn at this size: 0 the full avatar, i the level levels[i - 1]."""
        return self._stepped(size)[-1]

    def _stepped(self, size: int) -> list[int]:
        """The indices drawn at this size one after the other, the last the one drawn now: first
        the coarsest level within 8-bit rounding of the full avatar (0: none, the full avatar),
        then each next one as the one before missed the budget."""
        chain = [self._invisible_index(size)]
        while chain[-1] < len(self.levels) and (size, chain[-1]) in self._missed:
            chain.append(self._predicted_fit(size, chain[-1]))
        return chain

    def _predicted_fit(self, size: int, index: int) -> int:
        """The finest level coarser than `index` whose renders are predicted to fit the budget
        from the median `index` missed it with; the coarsest where none is."""
        missed_ms = self._missed[(size, index)]
        for coarser in range(index + 1, len(self.levels)):
            if missed_ms * self._cost(coarser) / self._cost(index) <= 1e3 * self.budget_s:
                return coarser
        return len(self.levels)

    def _cost(self, index: int) -> float:
        """Render time of what index draws over the full avatar's (the build's timing)."""
        return 1.0 if index == 0 else self.levels[index - 1].render_cost

    def _invisible_index(self, size: int) -> int:
        """The coarsest level within 8-bit rounding of the full avatar at the size they were
        measured at (0: none, or another size)."""
        if size != self._measured_size:
            return 0
        return max((i + 1 for i, level in enumerate(self.levels) if level.psnr_min >= INVISIBLE_PSNR_DB), default=0)

    def _why(self, size: int) -> str:
        """Why what is drawn at this size is drawn (a level of detail)."""
        chain = self._stepped(size)
        reasons = []
        if chain[0]:
            reasons.append(
                f"{_name(chain[0])}'s renders are the full avatar's within 8-bit rounding (>= {INVISIBLE_PSNR_DB:.0f} dB)"
            )
        budget = f"the {1e3 * self.budget_s:.0f} ms budget"
        for drawn, then in zip(chain, chain[1:]):
            reasons.append(f"{_name(drawn)} missed {budget} ({self._missed[(size, drawn)]:.0f} ms)")
            skipped = [_name(i) for i in range(drawn + 1, then)]
            if skipped:
                reasons.append(f"{' and '.join(skipped)} predicted to miss it")
        return "; ".join(reasons)

    def rendered(self, model: GaussianAvatar, size: int, ms: float) -> None:
        """A render of `model` at `size` took `ms` (render worker thread)."""
        if self.budget_s is None:
            return
        index = self._index(size)
        if model is not self.model_for(size):  # drawn before the last switch
            return
        recent = self._recent.setdefault((size, index), deque(maxlen=BUDGET_FRAMES))
        recent.append(ms)
        if len(recent) < BUDGET_FRAMES or statistics.median(recent) <= 1e3 * self.budget_s:
            return
        if (size, index) not in self._missed:
            self._missed[(size, index)] = statistics.median(recent)
            if index == len(self.levels):
                then = " (the coarsest: it stays)" if self.levels else " (no level of detail yet)"
            else:
                then = f": {_name(self._index(size))} drawn from now on"
            log.info(
                "viewer: %s misses the %.0f ms budget at %d px (%.0f ms)%s",
                _name(index),
                1e3 * self.budget_s,
                size,
                self._missed[(size, index)],
                then,
            )

    def _build(self, camera: Camera) -> None:
        name_os_thread("level of detail")  # its CPU time apart from the window's in the stats
        torch.set_num_threads(1)
        try:
            seen, evaluation, what = self._frames()
            centre, _ = head_target(self.model.rig)
            views = [_turned(camera, centre, yaw) for yaw in (0.0, 30.0)]
            small = [
                _resized(_turned(camera, centre, yaw), CONTRIBUTION_SIZE) for yaw in (0.0, 30.0, -30.0, 60.0, -60.0)
            ]
            levels = levels_of_detail(
                self.model, seen, small, evaluation, views, KEEP_FRACTIONS, self.background, self._stop.is_set
            )
        except BuildStopped:
            self.status = "level of detail: its build was stopped"
            return
        except Exception as e:  # the full avatar stays; the panel says why
            self.status = f"level of detail failed: {type(e).__name__}: {e}"
            return
        usable = [level for level in levels if level.psnr_min >= MIN_PSNR_DB]
        if not usable:
            self.status = f"no level of detail: it would cost too much ({levels[0].describe()})"
            return
        self._measured_size = camera.width
        self.levels = usable
        self.status = f"levels of detail on {what} at {camera.width} px: " + "; ".join(
            f"{i} {level.describe()}" for i, level in enumerate(usable, 1)
        )
        log.info("viewer: %s", self.status)

    def _frames(self) -> tuple[RigParams, RigParams, str]:
        """(frames the contributions come from, evaluation frames, what those are), the avatar's identity."""
        rig = self.model.rig
        path = Path(self.capture) if self.capture else None
        if path is not None and (path / "capture.json").is_file():
            from avatar.data.capture import load_capture

            cap = load_capture(path)
            train = [cap.frames[f].time for f in cap.splits.get("train", [])]
            test = [cap.frames[f].time for f in cap.splits.get("test", [])]
            if train and test:
                seen = cap.params.select(_spread(train, SEEN_FRAMES))
                evaluation = cap.params.select(_spread(test, EVALUATION_FRAMES))
                what = f"{evaluation.num_frames} held-out frames of its capture"
                return self._own(seen), self._own(evaluation), what
        from avatar.data.synthetic_motion import make_motion

        plan = make_motion(rig, SEEN_FRAMES, EVALUATION_FRAMES)
        return (
            self._own(plan.params.select(plan.train_times)),
            self._own(plan.params.select(plan.test_times)),
            f"{EVALUATION_FRAMES} frames of a synthetic motion",
        )

    def _own(self, params: RigParams) -> RigParams:
        params = params.to(dtype=torch.float32)
        params.shape = self.identity.clone()
        return params


def _name(index: int) -> str:
    return "the full avatar" if index == 0 else f"level of detail {index}"


def _spread(items: list[int], count: int) -> list[int]:
    step = max(1, len(items) // count)
    return items[::step][:count]


def _resized(camera: Camera, size: int) -> Camera:
    """The same view at size x size pixels (a square camera)."""
    k = camera.K.clone()
    k[:2] *= size / camera.width
    return Camera(k, camera.world_to_cam, size, size, camera.near, camera.far)


def _turned(camera: Camera, centre: torch.Tensor, yaw_deg: float) -> Camera:
    """camera moved yaw_deg around the vertical axis through centre [3] (rig space: y up)."""
    a = math.radians(yaw_deg)
    turn = torch.eye(4)
    turn[0, 0], turn[0, 2], turn[2, 0], turn[2, 2] = math.cos(a), math.sin(a), -math.sin(a), math.cos(a)
    to_centre, back = torch.eye(4), torch.eye(4)
    to_centre[:3, 3], back[:3, 3] = -centre, centre
    world_to_cam = camera.world_to_cam @ back @ turn @ to_centre
    return Camera(camera.K, world_to_cam, camera.width, camera.height, camera.near, camera.far)
