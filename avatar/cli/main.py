"""The `avatar` command: demo | track | import | train | info | eval | render | view | export | bench."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import traceback
from importlib.metadata import entry_points
from pathlib import Path

from avatar.cli.errors import error_message, is_user_error
from avatar.cli.parts import RIG_HELP, HelpFormatter, add_backend, add_command, add_device, add_rig, float_in, int_in


def build_parser() -> argparse.ArgumentParser:
    from avatar import __version__

    parser = argparse.ArgumentParser(
        prog="avatar",
        description="Gaussian-splatting head avatars: track a phone video, train an avatar, drive it live, render it.",
        formatter_class=HelpFormatter,
        epilog="examples:\n  avatar demo --out demo\n  avatar COMMAND --help",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = add_command(
        sub,
        "demo",
        "synthetic capture of the built-in head -> train -> eval -> render (offline; CPU or GPU)",
        "  avatar demo --out demo\n  avatar demo --out demo --size 64 --iterations 300",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder (model.avatar, demo.mp4, metrics.json)")
    p.add_argument("--size", type=int_in(16, 1024), default=128, help="image size in pixels (square, 16-1024)")
    p.add_argument("--train-frames", type=int_in(1, 100_000), default=150, help="time steps rendered for training")
    p.add_argument(
        "--test-frames", type=int_in(1, 100_000), default=30, help="held-out time steps (new expressions and poses)"
    )
    p.add_argument("--iterations", type=int_in(1, 10**9), default=None, help="training steps (default: the preset's)")
    p.add_argument("--preset", default="fast", help="training preset: a name in configs/ or a YAML file")
    add_backend(p)

    p = add_command(
        sub,
        "train",
        "fit an avatar to a capture directory",
        "  avatar train capture --out me.avatar\n"
        "  avatar train capture --out me.avatar --preset quality --set num_blend_expr=20\n"
        "  avatar train capture --print-config\n  avatar train capture --out me.avatar --resume\n"
        "  avatar train multiview_capture --out front.avatar --cameras 1",
    )
    p.add_argument("capture", type=Path, help="capture directory (from avatar track, import or demo)")
    p.add_argument("--out", type=Path, default=None, help="the .avatar file to write (required unless --print-config)")
    add_rig(p, help=RIG_HELP + " (default: the capture's rig)")
    p.add_argument(
        "--preset",
        default=None,
        help="fast | quality | mono-phone | multiview, or a YAML file (default: the capture's own, else by "
        "its cameras)",
    )
    p.add_argument("--iterations", type=int_in(1, 10**9), default=None, help="training steps (default: the preset's)")
    p.add_argument(
        "--cameras",
        type=int_in(0, 10**6),
        nargs="+",
        default=None,
        metavar="INDEX",
        help="train only on the training (and val) frames of these cameras (indices into the capture's "
        "cameras; default: all); the held-out splits stay whole, and the preset follows the cameras "
        "chosen",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help="any training setting (repeatable), e.g. --set num_blend_expr=0 --set lr_xyz=1e-3",
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved settings (YAML) and exit")
    p.add_argument("--resume", action="store_true", help="continue from OUT.ckpt if present")
    p.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="the run's record: config.yaml, metrics.jsonl, evaluation images (default: OUT.run/)",
    )
    p.add_argument(
        "--log",
        choices=["files", "tensorboard"],
        default="files",
        help="tensorboard: also TensorBoard event files in LOG_DIR/tb (the log extra)",
    )
    add_backend(p, default=None)  # None: --set backend=... or the preset decides

    p = add_command(
        sub,
        "info",
        "what a model is: rig, Gaussians, expressions with offsets, settings, training time, last metrics",
        "  avatar info me.avatar\n  avatar info me.avatar --json",
    )
    p.add_argument("model", type=Path, help="the .avatar file")
    add_rig(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = add_command(
        sub,
        "eval",
        "PSNR / SSIM / LPIPS on capture splits (full frame over white, INSTA-style over black "
        "with the matte, foreground)",
        "  avatar eval me.avatar capture\n  avatar eval me.avatar capture --split test --json m.json "
        "--save-images eval_images",
    )
    p.add_argument("model", type=Path, help="the .avatar file")
    p.add_argument("capture", type=Path, help="capture directory with the frames to compare against")
    p.add_argument(
        "--split",
        nargs="+",
        default=None,
        help="splits to evaluate (default: every split the capture has: train, val, test, test_camera, ...)",
    )
    p.add_argument(
        "--save-images",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/SPLIT/FRAME.png: target | render | error (x4)",
    )
    add_rig(p)
    p.add_argument("--json", type=Path, default=None, help="write the metrics (with per-frame values) here")
    add_backend(p)

    p = add_command(
        sub,
        "render",
        "render an expression file or another tracked capture to mp4",
        "  avatar render me.avatar --expr take.csv --out take.mp4\n"
        "  avatar render me.avatar --expr other_capture --out reenact.mp4 --camera arc --size 512\n"
        "  avatar render me.avatar --expr take.csv --out take.webm --alpha\n"
        "  avatar render me.avatar --expr take.csv --out take.mp4 --audio take.mov",
    )
    p.add_argument("model", type=Path, help="the .avatar file")
    p.add_argument(
        "--expr",
        required=True,
        type=Path,
        help=".npz | .json | Live Link Face .csv | a tracked capture directory (cross-identity)",
    )
    p.add_argument("--out", required=True, type=Path, help="the .mp4 to write (.webm or .mov with --alpha)")
    p.add_argument(
        "--alpha",
        action="store_true",
        help="transparent where the avatar is not: VP9 with alpha in .webm, or ProRes 4444 in .mov",
    )
    p.add_argument(
        "--audio",
        type=Path,
        default=None,
        metavar="FILE",
        help="the take's sound (.wav, .m4a, or the .mov Live Link Face records beside its CSV) into the "
        "video, aligned by the timecodes of both (a file without one starts at the first frame) and cut "
        "to the video's length: AAC in .mp4, Opus in .webm, PCM in .mov",
    )
    p.add_argument("--camera", default="front", choices=["front", "orbit", "arc"], help="camera path")
    p.add_argument("--size", type=int_in(16, 4096), default=256, help="output size in pixels (square, 16-4096)")
    add_rig(p)
    p.add_argument(
        "--arkit-map",
        type=Path,
        default=None,
        help="ARKit -> rig expression matrix (.npz: matrix [E, 52], names) for Live Link on FLAME",
    )
    add_backend(p)

    p = add_command(
        sub,
        "export",
        "the avatar for other programs: a web player folder, standard 3DGS .ply files "
        "(one frame, or every frame of a clip), or an animated glTF for engines",
        "  avatar export me.avatar --web me_web --expr take.csv happy.csv\n"
        "  avatar export me.avatar --ply neutral.ply\n  avatar export me.avatar --ply f10.ply --expr take.npz "
        "--frame 10\n  avatar export me.avatar --ply y_up.ply --axes rig --no-cut\n"
        "  avatar export me.avatar --ply-sequence take_plys --expr take.csv --frames 0:120\n"
        "  avatar export me.avatar --gltf me.glb --expr take.csv --frames 0:600",
    )
    p.add_argument("model", type=Path, help="the .avatar file")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--ply", type=Path, help="the .ply to write (one frame)")
    out.add_argument(
        "--ply-sequence",
        type=Path,
        metavar="DIR",
        help="a new folder to write every frame of --expr into: frame_00000.ply, ... and sequence.json",
    )
    out.add_argument(
        "--web",
        type=Path,
        metavar="DIR",
        help="a new folder with the web player (index.html, player.js), the avatar and each --expr as a "
        "sequence it plays: open it through any static web server (docs/web.md)",
    )
    out.add_argument(
        "--gltf",
        type=Path,
        metavar="OUT.glb",
        help="a glTF 2.0 binary: the rig mesh with ARKit-named morph targets and its skin, the Gaussians "
        "bound to it (KHR_gaussian_splatting points), and with --expr its animation "
        "(docs/formats.md#gltf-export)",
    )
    p.add_argument(
        "--expr",
        type=Path,
        nargs="+",
        default=None,
        metavar="FILE",
        help="expression file or capture directory to pose the avatar with (default: neutral); with --web, "
        "one or more, each a sequence of the player",
    )
    p.add_argument("--frame", type=int_in(0, 10**9), default=None, help="which frame of --expr (with --ply; default 0)")
    p.add_argument(
        "--frames",
        default=None,
        metavar="A:B",
        help="with --ply-sequence or --gltf: frames A to B-1 of --expr (default: all)",
    )
    p.add_argument(
        "--axes",
        default=None,
        choices=["inria", "rig"],
        help="inria (the default): x right, y down, z forward (away from a viewer facing the avatar), as "
        "INRIA 3DGS / COLMAP scenes (the rig's axes turned 180 degrees about x); rig: the avatar's "
        "own, y up (a .glb is always in glTF's axes: y up, the rig's own)",
    )
    p.add_argument(
        "--cut-views",
        type=float_in(0, 89),
        default=None,
        metavar="DEG",
        help="leave out what the avatar's cut below the head hides in every view within DEG degrees of "
        "the neck ring's plane (default: 25, the engine's own views; 0: all that lies below the ring)",
    )
    p.add_argument(
        "--no-cut", action="store_true", help="write every Gaussian, also those beyond the cut below the head"
    )
    add_rig(p)
    p.add_argument(
        "--arkit-map",
        type=Path,
        default=None,
        help="ARKit -> rig expression matrix (.npz) when --expr is Live Link Face on FLAME",
    )
    add_backend(p)

    p = add_command(
        sub,
        "bench",
        "milliseconds per blend / splat / training step for each backend, or per stage of a trained avatar's frames",
        "  avatar bench\n  avatar bench --backends cpu torch --sizes 256x256:30000:20 --json b.json\n"
        "  avatar bench --device cuda --backends cuda gsplat torch\n"
        "  avatar bench --model me.avatar --sizes 256,512\n"
        "  avatar bench --tracker clip.mp4 --rig ict:ICT-FaceKit",
    )
    p.add_argument(
        "--backends",
        nargs="+",
        default=None,
        help="torch cpu cuda gsplat (space or comma separated; default: all that run on --device; with --model: auto)",
    )
    p.add_argument(
        "--sizes",
        default=None,
        help="WxH:GAUSSIANS:EXPRESSIONS[,...] (default: 256x256:30000:20,512x512:100000:50); with "
        "--model: square image sizes (default: 256,512)",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="instead: a trained avatar's frames, stage by stage (pose, blend, splat, cut), as the viewer renders them",
    )
    p.add_argument(
        "--expr",
        type=Path,
        default=None,
        help="with --model: what drives it (expression file or tracked capture; default: the held-out "
        "frames of its training capture when present, else a synthetic motion)",
    )
    p.add_argument(
        "--frames",
        type=int_in(2, 100_000),
        default=None,
        help="frames to time (default: 60 with --model, 200 with --tracker)",
    )
    p.add_argument(
        "--repeat", type=int_in(1, 10_000), default=None, help="timed runs per op (default 5, 2 with --quick)"
    )
    p.add_argument("--quick", action="store_true", help="fewer runs: a smoke test, not a measurement")
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    add_device(p)
    for name, command in sub.choices.items():
        command.set_defaults(run=_core_command(name))
    for register in _registered_commands():
        register(sub)
    return parser


def _core_command(name: str):
    def run(args: argparse.Namespace) -> int | None:
        from avatar.cli import handlers  # torch and the models load only once a command runs

        return getattr(handlers, f"cmd_{name}")(args)

    return run


def _registered_commands() -> list:
    """`register(subparsers)` of each package that adds commands (entry points group
    "avatar.commands": capture's track, import and bench --tracker; viewer's view), so that
    avatar never imports them."""
    found = sorted(entry_points(group="avatar.commands"), key=lambda e: e.name)
    return [e.load() for e in found]


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that partial outputs are removed on the way out."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return args.run(args) or 0
    except Exception as e:  # noqa: BLE001 -- bad input is one line; a bug keeps its traceback (avatar.cli.errors)
        if is_user_error(e):
            print(f"error: {error_message(e)}", file=sys.stderr)
            return 2
        from avatar import __version__

        traceback.print_exc()
        print(
            f"avatar {__version__}: unexpected {type(e).__name__} (a bug, not your input): please report it with "
            f"the traceback above and the command line",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
