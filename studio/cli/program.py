"""The ``studio`` program: which command runs, its logging, and how the process ends."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from studio import __version__, warmup
from studio.cli import bench_speed, catalogue, editor, render
from studio.cli.editor import open_editor
from studio.cli.exits import EXIT_CANCELLED, EXIT_OK, EXIT_USAGE
from studio.errors import StudioError

# Each room of the command line adds its commands; COMMANDS lists them all (a mistyped one is told the nearest).
COMMAND_MODULES = (render, catalogue, editor, bench_speed)
COMMANDS = ("render", "validate", "nodes", "models", "verify", "demo", "editor", "bench-speed")

log = logging.getLogger("studio")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network unless the user says so
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        if argv and not _names_a_file(argv):
            return _unknown_command(argv[0])
        warmup.short_spin_waits()  # the editor renders with torch too; before Qt starts its threads
        return open_editor(argv[0] if argv else None)
    if argv[0] in PAUSE_GC and "--farm" not in argv:  # a farm's head loads no model
        warmup.pause_gc()  # from the start (argparse and logging collect too) until the model is loaded
        warmup.short_spin_waits()  # before torch loads, and before any thread starts (see OMP_SPIN)
    try:
        return _run_command(argv)
    finally:
        warmup.end_gc_pause()


def _run_command(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    try:
        return args.func(args)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ncancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # `studio nodes | head`: the reader left, which is fine
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps Python from complaining at exit
        return EXIT_OK


# Commands that import the model stack and load a model straight away: the cyclic garbage collector waits
# until the model is loaded (0.4-1.2 s of the first clip's CPU went to collections walking the new modules).
PAUSE_GC = frozenset({"render", "demo"})

# Commands that end the process as soon as their work is done: tearing down torch, diffusers and friends at
# interpreter exit took 1.3-1.9 s of the first clip (tests/benchmarks/bench_first_clip.py, variant exit-fast).
FAST_EXIT = frozenset({"render", "demo"})


def entry() -> None:
    """The ``studio`` program: ``main``, then for a finished render or demo an immediate exit (its files are
    written and closed; a farm render shuts Ray down itself and exits normally)."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv and argv[0] in FAST_EXIT and "--farm" not in argv:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description="Directed video synthesis on your own GPU.")
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return parser


def _setup_logging(verbose: bool) -> None:
    from studio.paths import data_dir

    logs = data_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(logs / "studio.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    if verbose:
        root.addHandler(logging.StreamHandler())
    for noisy in ("httpx", "huggingface_hub", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _names_a_file(argv: list[str]) -> bool:
    """Whether ``studio WORD`` means "open the editor on WORD": one argument that exists, or that looks like a
    path (a folder part or a suffix, as graph files have). ``studio rendr x`` is a mistyped command instead."""
    word = argv[0]
    if len(argv) > 1:
        return False
    return os.path.exists(word) or os.sep in word or "/" in word or bool(Path(word).suffix)


def _unknown_command(word: str) -> int:
    import difflib

    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"the commands are {', '.join(COMMANDS)}"
    print(f"error: unknown command '{word}': {hint}", file=sys.stderr)
    return EXIT_USAGE
