"""Building blocks of the `avatar` command's parsers, shared by `avatar.cli` and the packages
that register their own commands (`capture`, `viewer`, through the `avatar.cli.handlers` entry
points): one look for every command's help."""

from __future__ import annotations

import argparse

from avatar.runtime.backends import RENDER_BACKENDS
RIG_HELP = "builtin | ict:DIR (ICT-FaceKit folder) | flame:FILE (FLAME .pkl/.npz)"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every option's default shown unless it is None or False."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == [] \
            or action.default is argparse.SUPPRESS  # identity: a default of 0 is a value worth showing
        if not unset and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def int_in(low: int, high: int):
    """argparse type: an integer in [low, high] (documented bounds; refused before any work)."""
    return _bounded(int, "integer", f"[{low}, {high}]", low, high)


def float_in(low: float, high: float):
    """argparse type: a finite number in [low, high]."""
    return _bounded(float, "number", f"[{low:g}, {high:g}]", low, high)


def _bounded(convert, kind: str, bounds: str, low, high):
    """argparse type: `convert(text)` in [low, high] (written `bounds` in messages)."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            article = "an" if kind[0] in "aeiou" else "a"
            raise argparse.ArgumentTypeError(f"expected {article} {kind}, got {text!r}") from None
        if not low <= value <= high:  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be in {bounds}, got {value if convert is int else text}")
        return value
    parse.__name__ = f"{kind} in {bounds}"
    return parse


def add_command(sub, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand parser with its description and an examples block."""
    return sub.add_parser(name, help=help, description=help, epilog="examples:\n" + examples,
                          formatter_class=HelpFormatter)


def add_rig(p: argparse.ArgumentParser, default: str | None = None, help: str | None = None) -> None:
    """--rig: a rig spec (RIG_HELP). By default the option of commands that read a model, where
    it is needed only when the model's rig is not embedded in its file (FLAME's licence)."""
    p.add_argument("--rig", default=default,
                   help=help or f"{RIG_HELP}; needed when the model's rig is not embedded (FLAME)")


def add_backend(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """--backend and --device: the kernels that run are those of the run's device. default None:
    the command's settings decide (train: the preset's, or --set backend=...)."""
    p.add_argument("--backend", default=default, choices=RENDER_BACKENDS,
                   help="blend and splat implementation for the device; auto: cuda > torch on a GPU, cpu > torch "
                        "on the CPU; gsplat: our blend + gsplat's rasterizer (CUDA only)"
                        + ("" if default else " (default: the preset's, auto unless it says otherwise)"))
    add_device(p)


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto",
                   help="where the run computes: auto (the first CUDA device torch sees, else cpu) | cpu | cuda | "
                        "cuda:N")
