"""The work of `avatar batch`: `run_stage` is one stage of one subject (what a Ray task runs,
calling the same functions as `avatar track`, `avatar train` and `avatar eval`), and `Batch`
is the driver: it submits each subject's next unfinished stage, waits for results, retries,
and rewrites the summary at every event.

Ray is imported here only inside functions: `capture.batch` loads without it (the command
reports the missing extra itself)."""

from __future__ import annotations

import logging
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from avatar.cli.errors import is_user_error
from avatar.data.atomic import dump_json
from capture.batch.plan import STAGES, Layout, Subject, first_unfinished, layout
from capture.batch.summary import report_nme, write_summary

log = logging.getLogger("avatar")


class StageError(Exception):
    """What a stage raised, as the driver gets it: 'Type: message' and whether it is a bad input
    (`avatar.cli.errors.is_user_error`). The domain errors themselves do not survive Ray's
    pickling (VideoError takes two arguments); the traceback is in logs/STAGE.log."""

    def __init__(self, message: str, user_error: bool):
        super().__init__(message)
        self.message, self.user_error = message, user_error

    def __reduce__(self):
        return StageError, (self.message, self.user_error)


@dataclass(frozen=True)
class Options:
    """Everything a stage needs besides its subject (plain values: it is pickled to the workers)."""

    rig: str = "builtin"
    size: int = 512
    max_frames: int | None = None
    photometric: bool = True
    preset: str | None = None
    settings: dict = field(default_factory=dict)  # training settings (--set, --iterations)
    cpus_per_track: int = 1
    cpus_per_train: int = 1
    gpus_per_train: float = 0.0  # > 0 only when the cluster has them (decided by the driver)
    retries: int = 1


def run_stage(stage: str, subject: Subject, root: Path, options: Options) -> dict:
    """Run `stage` for the subject whose outputs go to `root` (a Layout's); returns the stage's
    record, also written to logs/STAGE.json after its output. Its log goes to logs/STAGE.log."""
    import torch

    where = Layout(Path(root))
    where.logs.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(where.log(stage))
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("avatar")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    on_gpu = stage != "track" and options.gpus_per_train > 0
    threads = options.cpus_per_track if stage == "track" else options.cpus_per_train
    torch.set_num_threads(max(1, int(threads)))
    device = "cuda" if on_gpu else "cpu"
    started = time.perf_counter()
    logger.info("%s of %s on %s (pid %d, %d threads)", stage, root, device, os.getpid(), torch.get_num_threads())
    try:
        info = _STAGES[stage](subject, where, options, device)
    except Exception as e:
        logger.error("%s failed:\n%s", stage, traceback.format_exc())
        raise StageError(f"{type(e).__name__}: {e}", is_user_error(e)) from None
    finally:
        logger.removeHandler(handler)
        handler.close()
    record = {
        "stage": stage,
        "seconds": round(time.perf_counter() - started, 2),
        "device": device,
        "finished_at": time.time(),
        **info,
    }
    dump_json(record, where.record(stage))
    return record


def _track(subject: Subject, where: Layout, options: Options, device: str) -> dict:
    # overwrite: a capture directory here is not complete (else the stage would be skipped)
    common = {
        "rig_spec": options.rig,
        "size": options.size,
        "max_frames": options.max_frames,
        "photometric": options.photometric,
        "overwrite": True,
        "progress": False,
    }
    if subject.views is None:
        from capture.track import track

        report = track(list(subject.videos), where.capture, **common)
        return {"frames": report["frames"], "tracked": report["tracked"], "nme_mean": report.get("nme_mean")}
    from capture.track_views import track_views

    views = subject.views
    report = track_views(
        list(subject.videos),
        where.capture,
        calibration=views.calibration,
        offsets=None if views.offsets is None else list(views.offsets),
        test_camera=views.test_camera,
        **common,
    )
    return {
        "frames": report["frames"],
        "tracked": report["tracked"],
        "views": len(report["views"]),
        "nme_mean": report_nme(report),
    }


def _train(subject: Subject, where: Layout, options: Options, device: str) -> dict:
    from avatar.api import train

    # resume: continues from model.avatar.ckpt when an interrupted run left one
    avatar = train(
        where.capture,
        where.model,
        preset=options.preset,
        resume=True,
        progress=False,
        device=device,
        **options.settings,
    )
    return {"gaussians": int(avatar.model.num_gaussians)}


def _eval(subject: Subject, where: Layout, options: Options, device: str) -> dict:
    from avatar.api import evaluate

    metrics = evaluate(where.model, where.capture, device=device)
    dump_json(metrics, where.eval_json)
    return {"psnr": {split: m.get("psnr") for split, m in metrics.items()}}


_STAGES = {"track": _track, "train": _train, "eval": _eval}


def describe(error: BaseException) -> tuple[str, BaseException]:
    """'Type: message' of what failed in a task, and the exception it carries (Ray wraps it)."""
    import ray.exceptions

    cause = error
    if isinstance(error, ray.exceptions.RayTaskError) and error.cause is not None:
        cause = error.cause
    if isinstance(cause, StageError):
        return cause.message, cause
    text = str(cause).strip().splitlines()  # Ray's own: a worker that died, a task that could not run
    return f"{type(cause).__name__}: {text[0] if text else ''}".strip(), cause


def should_retry(cause: BaseException, attempts: int, retries: int) -> bool:
    """Retry an unexpected failure up to `retries` times; a bad input (is_user_error: no face in the
    video, an unreadable file, a wrong setting) fails the same way again and is not retried."""
    user_error = cause.user_error if isinstance(cause, StageError) else is_user_error(cause)
    return attempts <= retries and not user_error


class Batch:
    """The driver: subjects' stages as Ray tasks, pipelined (a subject's train is submitted as
    soon as its track is done), at most `options` resources each; events are logged and
    written to OUT/summary.json and OUT/summary.md as they happen."""

    def __init__(self, subjects: list[Subject], out: Path, options: Options, run_info: dict):
        self.subjects, self.out, self.options, self.run_info = subjects, Path(out), options, run_info
        self.state = {s.name: {stage: {"status": "pending", "attempts": 0} for stage in STAGES} for s in subjects}
        self.pending: dict = {}  # ObjectRef -> (subject, stage index, started)
        self.started = time.time()

    def run(self) -> dict:
        import ray

        remote = ray.remote(run_stage)
        self._remote = remote
        status = "interrupted"
        try:
            for subject in self.subjects:
                self._next(subject, first_unfinished(layout(self.out, subject)), fresh=True)
            while self.pending:
                ready, _ = ray.wait(list(self.pending), num_returns=1)
                self._done(ready[0])
            status = "finished"
        finally:
            if status != "finished":
                for subject, index, _ in self.pending.values():
                    self.state[subject.name][STAGES[index]]["status"] = "interrupted"
            self._write(status)
        return self.summary

    def _submit(self, subject: Subject, index: int) -> None:
        stage = STAGES[index]
        opts = self.options
        gpus = opts.gpus_per_train if stage != "track" else 0
        cpus = opts.cpus_per_track if stage == "track" else (1 if gpus else opts.cpus_per_train)
        # max_retries: Ray resubmits a task whose worker died (killed, out of memory); exceptions
        # come back here and `should_retry` decides.
        ref = self._remote.options(
            num_cpus=cpus,
            num_gpus=gpus,
            max_retries=opts.retries,
            retry_exceptions=False,
            name=f"{stage}:{subject.name}",
        ).remote(stage, subject, layout(self.out, subject).root, opts)
        entry = self.state[subject.name][stage]
        entry["status"], entry["attempts"] = "running", entry["attempts"] + 1
        self.pending[ref] = (subject, index, time.time())
        self._event(subject, stage, f"started (attempt {entry['attempts']})")

    def _next(self, subject: Subject, index: int, fresh: bool = False) -> None:
        """Submit stage `index` of `subject`; on the first call, stages before it are skipped (done
        by an earlier run), and what the stages from it on wrote earlier is stale and removed."""
        where = layout(self.out, subject)
        if fresh:
            for stage in STAGES[:index]:
                self.state[subject.name][stage]["status"] = "skipped"
                self._event(subject, stage, "skipped (finished earlier)")
            for stage in STAGES[index + 1 :]:
                for path in where.outputs(stage):
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink(missing_ok=True)
                where.record(stage).unlink(missing_ok=True)
        if index < len(STAGES):
            self._submit(subject, index)
        else:
            self._write("running")

    def _done(self, ref) -> None:
        import ray

        subject, index, started = self.pending.pop(ref)
        stage = STAGES[index]
        entry = self.state[subject.name][stage]
        try:
            record = ray.get(ref)
        except (ray.exceptions.RayError, Exception) as e:  # noqa: B014 - RayError first: it names the task
            error, cause = describe(e)
            if should_retry(cause, entry["attempts"], self.options.retries):
                self._event(subject, stage, f"failed, retrying: {error}")
                self._submit(subject, index)
                return
            entry |= {"status": "failed", "error": error, "minutes": round((time.time() - started) / 60, 3)}
            self._event(subject, stage, f"FAILED after {entry['attempts']} attempt(s): {error}")
            return
        entry |= {"status": "done", "minutes": round(record["seconds"] / 60, 3)}
        self._event(subject, stage, f"done in {record['seconds'] / 60:.2f} min")
        self._next(subject, index + 1)

    def _event(self, subject: Subject, stage: str, what: str) -> None:
        log.info("batch %s  %-20s %-5s %s", time.strftime("%H:%M:%S"), subject.name, stage, what)
        self._write("running")

    def _write(self, status: str) -> None:
        self.summary = write_summary(
            self.out,
            self.subjects,
            self.state,
            status,
            self.run_info | {"started_at": self.started, "wall_minutes": round((time.time() - self.started) / 60, 3)},
        )


def connect(address: str | None, num_cpus: int | None) -> str:
    """Start a local Ray on this machine (`num_cpus`, default all) or connect to `address`
    (auto: the cluster this machine belongs to; ray://HOST:10001: a remote one through Ray
    Client). Returns what it connected to."""
    import ray

    quiet = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address:
        ray.init(address=address, log_to_driver=False)
        return address
    # The workers inherit this environment (the same virtualenv); their logs go to logs/STAGE.log.
    ray.init(num_cpus=num_cpus or os.cpu_count(), **quiet)
    return "local"


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def gpus_available() -> float:
    import ray

    return float(ray.cluster_resources().get("GPU", 0))
