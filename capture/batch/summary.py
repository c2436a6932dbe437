"""OUT/summary.json and OUT/summary.md of an `avatar batch` run, rewritten (atomically) at every
event: per subject its status, frames tracked, NME, training and held-out PSNR, Gaussians, the
minutes of each stage and the error that stopped it. Figures come from the stages' records
(logs/STAGE.json, also for stages an earlier run finished) and the outputs themselves."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from avatar.data.atomic import atomic_path, dump_json
from capture.batch.plan import STAGES, Subject, layout, read_json


def gaussians_in(model: Path) -> int | None:
    """The number of Gaussians of an .avatar file from its safetensors header alone (no torch),
    for a model whose train record is missing (the task was stopped between the two writes)."""
    try:
        with open(model, "rb") as f:
            size = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(min(size, 1 << 24)))
        return int(header["gaussians.xyz"]["shape"][0])
    except (OSError, ValueError, KeyError, IndexError, TypeError, struct.error):
        return None


def report_nme(report: dict) -> float | None:
    """A capture report's 68-point NME: its own (one camera), or the mean over its views' (several)."""
    if report.get("nme_mean") is not None or "views" not in report:
        return report.get("nme_mean")
    values = [v["nme_mean"] for v in report["views"] if v.get("nme_mean") is not None]
    return sum(values) / len(values) if values else None


def subject_row(out: Path, subject: Subject, stages: dict) -> dict:
    """One subject's line of the summary; `stages`: {stage: {"status", "attempts", ...}} of this run."""
    where = layout(out, subject)
    report = read_json(where.capture / "report.json") or {}
    metrics = read_json(where.eval_json) or {}
    train = read_json(where.record("train")) or {}
    rows = {}
    for stage in STAGES:
        entry = dict(stages[stage])
        record = read_json(where.record(stage))
        if entry["status"] == "skipped" and record is not None:
            entry["minutes"] = round(record["seconds"] / 60, 3)  # of the run that did it
        rows[stage] = entry
    failed = next((s for s in STAGES if rows[s]["status"] == "failed"), None)
    statuses = {rows[s]["status"] for s in STAGES}
    status = (
        "failed"
        if failed
        else "done"
        if statuses <= {"done", "skipped"}
        else "interrupted"
        if "interrupted" in statuses
        else "running"
        if "running" in statuses
        else "pending"
    )
    return {
        "subject": subject.name,
        "videos": [str(v) for v in subject.videos],
        "status": status,
        "views": None if subject.views is None else len(subject.videos),
        "frames": report.get("frames"),
        "frames_tracked": report.get("tracked"),
        "nme": report_nme(report),
        "psnr_train": (metrics.get("train") or {}).get("psnr"),
        "psnr_test": (metrics.get("test") or {}).get("psnr"),
        "psnr_test_camera": (metrics.get("test_camera") or {}).get("psnr"),
        "gaussians": train.get("gaussians") or (gaussians_in(where.model) if where.model.is_file() else None),
        "stages": rows,
        "error": f"{failed}: {rows[failed].get('error')}" if failed else None,
        "dir": str(where.root),
    }


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def markdown(summary: dict) -> str:
    lines = [
        f"# avatar batch: {summary['status']}",
        "",
        f"{summary['done']} done, {summary['failed']} failed, {summary['other']} not finished, "
        f"of {len(summary['subjects'])} subjects; wall {summary['wall_minutes']:.2f} min "
        f"(started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(summary['started_at']))}).",
        "",
        "| subject | status | frames tracked | NME | train PSNR | held-out PSNR | Gaussians | "
        "track min | train min | eval min | error |",
        "|" + "---|" * 11,
    ]
    for r in summary["subjects"]:
        minutes = []
        for stage in STAGES:
            entry = r["stages"][stage]
            text = _fmt(entry.get("minutes"), ".2f")
            minutes.append(f"{text} (skipped)" if entry["status"] == "skipped" else text)
        tracked = None if r["frames_tracked"] is None else f"{r['frames_tracked']} / {r['frames']}"
        error = (r["error"] or "").replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {r['subject']} | {r['status']} | {tracked or '–'} | {_fmt(r['nme'], '.4f')} | "
            f"{_fmt(r['psnr_train'], '.2f')} | {_fmt(r['psnr_test'], '.2f')} | {_fmt(r['gaussians'], 'd')} | "
            + " | ".join(minutes)
            + f" | {error} |"
        )
    lines += [
        "",
        "Minutes marked (skipped) are those of the earlier run that finished the stage; PSNR in dB, "
        "full frame over white (`avatar eval`); held-out: the last 15% of each video.",
    ]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, subjects: list[Subject], state: dict, status: str, run_info: dict) -> dict:
    """Write OUT/summary.json and OUT/summary.md (each atomically) and return the summary."""
    rows = [subject_row(out, s, state[s.name]) for s in subjects]
    summary = {
        "status": status,
        **run_info,
        "done": sum(r["status"] == "done" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows),
        "subjects": rows,
    }
    summary["other"] = len(rows) - summary["done"] - summary["failed"]
    out = Path(out)
    dump_json(summary, out / "summary.json")
    with atomic_path(out / "summary.md") as partial:
        partial.write_text(markdown(summary))
    return summary
