"""The command line: `studio` (the editor), `studio render`, `validate`, `nodes`, `models`, `verify`, `demo`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from studio import __version__
from studio.errors import GraphValidationError, StudioError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
EXAMPLE_GRAPH = "first-clip.studio.json"
COMMANDS = ("render", "validate", "nodes", "models", "verify", "demo", "editor")

log = logging.getLogger("studio")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network unless the user says so
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        if argv and not _names_a_file(argv):
            return _unknown_command(argv[0])
        return _editor(argv[0] if argv else None)
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

    p = sub.add_parser("render", help="render a graph headlessly")
    p.add_argument("graph", help="a .studio.json graph file")
    p.add_argument("-o", "--output", help="the file to write, anywhere (the graph's Export or Save Video node "
                   "writes it; a graph without one gets a signed Export)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier Studio output of the same name instead of writing the next version "
                   "(name_0002.mp4); a file Studio did not write is never replaced")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="change a parameter for this render only (repeatable)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="run every model on this device")
    p.add_argument("--draft", action="store_true",
                   help="render each generator at its draft settings (fewer steps, gentler guidance; same seed): a quick look")
    p.add_argument("--seeds", metavar="SEEDS",
                   help="render once per seed, one after another: 1-4, 1,3,7 (outputs named clip_seed3.mp4)")
    p.add_argument("--sweep", action="append", default=[], metavar="NODE.PARAM=V1,V2,...",
                   help="render once per value (repeatable; with --seeds, every combination)")
    p.add_argument("--farm", metavar="local|ADDRESS",
                   help="render the jobs on a Ray cluster: 'local' starts one on this machine, else a Ray "
                   "address (needs pip install 'studio[farm]')")
    p.add_argument("--workers", type=int, metavar="N",
                   help="with --farm: how many workers (default: one per GPU, else 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to the terminal")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("demo", help="render the example graph with the embedded model")
    p.add_argument("-o", "--output", default="first-clip.mp4", help="where to write the clip")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo clip of the same name")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("validate", help="check a graph and list every problem")
    p.add_argument("graph")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("nodes", help="list node types with their ports and parameters")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_nodes)

    p = sub.add_parser("models", help="list the video models Studio can see")
    p.add_argument("folders", nargs="*", help="extra folders to look in")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("verify", help="check a clip's Content Credentials and watermark")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--trust", action="append", default=[], metavar="PEM",
                   help="trust this certificate authority (repeatable)")
    p.add_argument("--trust-local", action="store_true",
                   help="trust this machine's own Studio signing authority (your own clips)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("editor", help="open the editor")
    p.add_argument("graph", nargs="?")
    p.set_defaults(func=lambda a: _editor(a.graph))
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


def display_problem(environ: dict[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why the editor cannot open a window here, in a sentence, or None. Checked before Qt starts: without a
    display Qt aborts the process (rc 134) blaming a missing xcb-cursor0 library, which misleads."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None  # macOS and Windows always have one; a chosen Qt platform (offscreen, vnc) is trusted
    if env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return "no display: set DISPLAY, or use `studio render GRAPH`"
    number = _local_display_number(display)
    if number is not None and not _x_server_answers(number):
        return (f"no display: nothing answers on DISPLAY={display}; start the X server (or Xvfb {display}), "
                "or use `studio render GRAPH`")
    return None


def _local_display_number(display: str) -> int | None:
    """``:1`` or ``:1.0`` (a local X server, reached through a socket) -> 1; remote displays are not probed."""
    host, _, rest = display.rpartition(":")
    if host not in ("", "unix"):
        return None
    number = rest.split(".")[0]
    return int(number) if number.isdigit() else None


def _x_server_answers(number: int) -> bool:
    import socket

    # The X server listens on a socket file, and on Linux also on the same name in the abstract namespace
    # (which is all a container sharing the host's network but not its /tmp sees).
    for address in (f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            try:
                sock.connect(address)
            except OSError:
                continue
            return True
    return False


def _editor(path: str | None) -> int:
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_FAILED
    try:
        from studio.ui.shell.app import main as editor_main
    except ImportError as exc:
        print(f"error: the editor cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return editor_main(path)


# ---- render
def _registry():
    from studio.graph import NodeRegistry

    registry = NodeRegistry.default()
    for message in registry.load_errors:
        print(f"warning: {message}", file=sys.stderr)
    return registry


def apply_overrides(graph, registry, overrides: list[str], chosen: dict[str, Path] | None = None) -> None:
    """Apply NODE.PARAM=VALUE strings; each bad one is a StudioError saying what is wrong.

    A file a node writes, typed here, is the person's choice: it goes into ``chosen`` (node id -> file), not
    into the graph, whose own paths stay inside its output folder."""
    from studio.engine.jobs import Override, apply_override

    for item in overrides:
        override = Override.parse(item)
        node = graph.nodes.get(override.node_id)
        spec = registry.get(node.type) if node is not None else None
        pspec = spec.param(override.param) if spec is not None else None
        if pspec is not None and pspec.kind == "path" and override.text:
            # typed on the command line: relative to here (links kept as typed, never resolved into the clip)
            value = os.path.abspath(Path(override.text).expanduser())
            if pspec.output_file:
                if chosen is None:
                    raise StudioError(f"--set '{item}': a file to write cannot be chosen here")
                chosen[override.node_id] = Path(value)
                graph.set_param(override.node_id, override.param, Path(value).name)  # the graph keeps a name
                continue
            override = Override(override.node_id, override.param, value)
        apply_override(graph, registry, override)


def _route_output(graph, registry, output: str, chosen: dict[str, Path]) -> str:
    """Send the graph's one file-writing node to ``output`` (the person's choice, written as given), adding a
    signed Export node if it has none."""
    dest = Path(os.path.abspath(Path(output).expanduser()))
    writers = [nid for nid, n in graph.nodes.items()
               if (s := registry.get(n.type)) is not None and s.is_output and s.param("path") is not None
               and not n.bypassed]
    if len(writers) == 1:
        _check_suffix(graph, registry, writers[0], dest)
        chosen[writers[0]] = dest
        graph.set_param(writers[0], "path", dest.name)  # the graph keeps a plain name; the file is ``dest``
        return writers[0]
    if len(writers) > 1:
        raise StudioError(f"-o is ambiguous: the graph writes {len(writers)} files ({', '.join(writers)})",
                          hint="use --set NODE.path=FILE for each instead")
    previews = [nid for nid, n in graph.nodes.items() if n.type in registry.types_with_role("preview")]
    if len(previews) != 1:
        raise StudioError("-o needs an Export or Save Video node, or exactly one Preview node to export from")
    link = graph.link_into(previews[0], "video")
    if link is None:
        raise StudioError(f"the Preview node '{previews[0]}' has no input to save")
    exporters = registry.with_role("exporter")
    if not exporters:
        raise StudioError("-o needs an Export node type, and none is installed")
    spec = exporters[0]
    exporter = graph.add_node(spec, params={spec.roles.exporter.path: dest.name})
    graph.connect(link.src, link.src_port, exporter.id, "video")
    _check_suffix(graph, registry, exporter.id, dest)
    chosen[exporter.id] = dest
    return exporter.id


def _check_suffix(graph, registry, node_id: str, dest: Path) -> None:
    """Refuse, before rendering, an -o whose extension is not the writer's format (-o clip.otio)."""
    from studio.media.encode import EXTENSIONS

    node = graph.nodes[node_id]
    spec = registry.get(node.type)
    export = spec.roles.exporter if spec is not None else None
    fmt = node.params.get(export.format, "mp4") if export is not None and export.format else "mp4"
    want = EXTENSIONS.get(fmt, ".mp4")
    if dest.suffix.lower() != want:
        raise StudioError(f"-o {dest.name}: node '{node_id}' writes {fmt}, whose files end in {want}",
                          hint=f"use -o {dest.stem}{want}")


def cmd_render(args: argparse.Namespace) -> int:
    from studio.graph import load_graph

    registry = _registry()
    graph_path = Path(args.graph)
    graph = load_graph(graph_path, registry)
    chosen: dict[str, Path] = {}
    apply_overrides(graph, registry, args.overrides, chosen)
    if args.device:
        for nid, node in graph.nodes.items():
            if node.type in registry.types_with_role("model_loader"):
                graph.set_param(nid, "device", args.device)
    if args.output:
        _route_output(graph, registry, args.output, chosen)
    if args.draft:
        from studio.engine.engine import draft_copy

        graph, changed = draft_copy(graph, registry)
        if changed and not args.quiet:
            print(f"draft: {', '.join(changed)} at their draft settings", file=sys.stderr)
    from studio.engine.outputs import OutputPolicy

    policy = OutputPolicy(chosen=chosen, overwrite=args.overwrite, draft=args.draft)
    if args.seeds or args.sweep or args.farm:
        return render_batch(graph, registry, graph_path.parent.resolve(), args, policy)
    return render_graph(graph, registry, graph_path.parent.resolve(), quiet=args.quiet, outputs=policy)


def render_batch(graph, registry, base_dir: Path, args: argparse.Namespace, policy) -> int:
    """``--seeds``/``--sweep``: one job per combination, each a snapshot, rendered one after another on one
    engine (its cache keeps the loaded model), or on a Ray farm with ``--farm``. One line per job."""
    from studio.engine.jobs import make_jobs, parse_seeds, parse_sweep
    from studio.graph import dumps, validate

    seeds = parse_seeds(args.seeds) if args.seeds else []
    sweeps = [parse_sweep(text) for text in args.sweep]
    problems = validate(graph, registry)
    if problems:
        raise GraphValidationError([str(p) for p in problems])
    jobs = make_jobs(dumps(graph, registry), graph, registry, seeds=seeds, sweeps=sweeps, base_dir=base_dir,
                     policy=policy, settings=args.overrides)
    if args.farm:
        return _render_on_farm(jobs, registry, args)
    return _render_jobs_here(jobs, registry, quiet=args.quiet)


def _render_on_farm(jobs, registry, args: argparse.Namespace) -> int:
    from studio.farm.console import render_on_farm

    progress = not args.quiet and sys.stderr.isatty()
    outcomes = render_on_farm(jobs, registry, args.farm, workers=args.workers, progress=progress,
                              line=lambda o: _job_line(o, len(jobs)))
    if outcomes is None:
        return EXIT_CANCELLED
    failed = [o for o in outcomes if o.status != "ok"]
    return EXIT_CANCELLED if any(o.status == "cancelled" for o in failed) else EXIT_FAILED if failed else EXIT_OK


def _render_jobs_here(jobs, registry, quiet: bool) -> int:
    import time

    from studio.engine import Engine
    from studio.engine.jobs import JobOutcome

    engine = Engine(registry)  # one engine for the batch: its cache keeps the model loaded between jobs
    failures = 0
    for job in jobs:
        graph, policy = job.build(registry)
        # a step bar on a terminal only (the job line says the rest); warnings always
        progress = _Progress(graph, registry, quiet or not sys.stderr.isatty(),
                             label=f"job {job.index}/{len(jobs)}")
        started = time.perf_counter()
        result = _run_to_end(engine, graph, progress, job.base_dir, policy)
        progress.close()
        outcome = JobOutcome(job.index, job.describe(), result.status, written_files(graph, registry, result),
                             time.perf_counter() - started,
                             "; ".join(f"node '{n}': {m}" for n, m in result.failed.items()))
        print(_job_line(outcome, len(jobs)), flush=True)
        if result.status == "cancelled":
            print("batch cancelled", file=sys.stderr)
            return EXIT_CANCELLED
        failures += result.status != "ok"
    return EXIT_FAILED if failures else EXIT_OK


def _job_line(outcome, total: int) -> str:
    """One line per job: index, what it varies, the files it wrote (or why it failed), seconds."""
    what = ", ".join(str(p) for p in outcome.written) if outcome.status == "ok" else (
        f"{outcome.status.upper()}: {outcome.message}" if outcome.message else outcome.status.upper())
    where = f" on {outcome.worker}" if outcome.worker else ""
    if outcome.attempts > 1:
        where += f" (try {outcome.attempts}: an earlier worker died)"
    return f"job {outcome.index}/{total}  {outcome.label}  {what}  {outcome.seconds:.1f} s{where}"


def written_files(graph, registry, result) -> list[str]:
    """The files a finished run's writers (Export, Save Video) wrote, in graph order."""
    files = []
    for nid, values in (result.outputs or {}).items():
        spec = registry.get(graph.nodes[nid].type)
        if spec is not None and spec.is_output and spec.param("path") is not None:
            files.append(str(values[spec.outputs[0].name]))
    return files


def cmd_demo(args: argparse.Namespace) -> int:
    from studio.graph import load_graph
    from studio.paths import RESOURCES

    registry = _registry()
    path = RESOURCES / "examples" / EXAMPLE_GRAPH
    graph = load_graph(path, registry)
    chosen: dict[str, Path] = {}
    _route_output(graph, registry, args.output, chosen)
    from studio.engine.outputs import OutputPolicy

    policy = OutputPolicy(chosen=chosen, overwrite=args.overwrite)
    return render_graph(graph, registry, path.parent, quiet=args.quiet, outputs=policy)


def render_graph(graph, registry, base_dir: Path, quiet: bool = False, outputs=None) -> int:
    from studio.engine import Engine
    from studio.engine.outputs import OutputPolicy
    from studio.graph import validate

    outputs = outputs or OutputPolicy()
    problems = validate(graph, registry)
    if problems:
        raise GraphValidationError([str(p) for p in problems])
    engine = Engine(registry)
    progress = _Progress(graph, registry, quiet)
    result = _run_to_end(engine, graph, progress, base_dir, outputs)
    progress.close()
    _summary(graph, registry, result)
    if result.status == "cancelled":
        print("render cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    if result.status != "ok":
        for nid, message in result.failed.items():
            print(f"error: node '{nid}': {message}", file=sys.stderr)
        return EXIT_FAILED
    for nid, values in result.outputs.items():
        node = graph.nodes[nid]
        spec = registry.get(node.type)
        if spec is not None and spec.is_output and spec.param("path") is not None:
            written = Path(values[spec.outputs[0].name])
            asked = outputs.chosen[nid].name if nid in outputs.chosen else Path(str(node.params.get("path"))).name
            if outputs.draft and nid not in outputs.chosen:
                from studio.engine.outputs import draft_name

                asked = draft_name(Path(asked)).name
            note = "" if written.name == asked else (
                f" (a new version: {asked} exists; --overwrite replaces Studio's own earlier output)")
            print(f"wrote {written}{note}")
    return EXIT_OK


def _run_to_end(engine, graph, listener, base_dir, outputs):  # noqa: ANN001, ANN202
    """Run on the engine's worker (so Ctrl+C reaches this thread), cancelling at the next step on Ctrl+C."""
    handle = engine.start(graph, listener=listener, base_dir=base_dir, outputs=outputs)
    try:
        while not handle.done:
            handle.wait(0.1)
    except KeyboardInterrupt:
        print("\ncancelling at the next step...", file=sys.stderr)
        handle.cancel()
        handle.wait()
    return handle.result


class _Progress:
    """Turns engine events into terminal progress bars (called on the engine's worker thread)."""

    def __init__(self, graph, registry, quiet: bool, label: str | None = None) -> None:
        self.titles = {nid: (n.title or (registry.get(n.type).title if registry.get(n.type) else n.type))
                       for nid, n in graph.nodes.items()}
        self.quiet = quiet
        self.label = label  # a job of a batch: no line per node, the bar names the job
        self.bar = None
        self.node = None

    def __call__(self, event) -> None:
        from studio.engine import NodeFinished, NodeProgress, NodeStarted, NodeWarning

        if isinstance(event, NodeWarning):
            self.close()
            print(f"warning: node '{event.node_id}': {event.message}", file=sys.stderr)
            return
        if self.quiet:
            return
        if isinstance(event, NodeStarted):
            self.close()
            self.node = event.node_id
            if self.label is None:
                print(f"{self.titles.get(event.node_id, event.node_id)} ({event.node_id}): {event.reason}",
                      file=sys.stderr)
        elif isinstance(event, NodeProgress) and event.total > 1:
            from tqdm import tqdm

            if self.bar is None or self.bar.total != event.total:
                self.close()
                self.bar = tqdm(total=event.total, unit="step", leave=False, file=sys.stderr,
                                desc=f"  {self.label + ' ' if self.label else ''}{event.message or 'steps'}")
            desc = f"  {self.label + ' ' if self.label else ''}{event.message or 'steps'}"
            if self.bar.desc != desc:  # a sequence's "shot 3/6 ..." follows the shot
                self.bar.set_description_str(desc, refresh=False)
            self.bar.n = event.step
            self.bar.refresh()
        elif isinstance(event, NodeFinished):
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _summary(graph, registry, result) -> None:
    rows = []
    for nid in list(result.timings) + list(result.cached):
        state = "cached" if nid in result.cached else f"{result.timings[nid]:.2f} s"
        rows.append((nid, state))
    if rows:
        width = max(len(n) for n, _ in rows)
        print("node times:", file=sys.stderr)
        for nid, state in rows:
            print(f"  {nid.ljust(width)}  {state}", file=sys.stderr)
        print(f"  {'total'.ljust(width)}  {result.seconds:.2f} s", file=sys.stderr)


# ---- other commands
def cmd_validate(args: argparse.Namespace) -> int:
    from studio.graph import load_graph, validate

    registry = _registry()
    graph = load_graph(args.graph, registry)
    problems = validate(graph, registry)
    if problems:
        print(f"{args.graph}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  - {problem}")
        return EXIT_FAILED
    print(f"{args.graph}: OK ({len(graph.nodes)} nodes, {len(graph.links)} links)")
    return EXIT_OK


def cmd_nodes(args: argparse.Namespace) -> int:
    registry = _registry()
    if args.json:
        print(json.dumps([_spec_dict(s) for s in registry], indent=2))
        return EXIT_OK
    for spec in registry:
        print(f"{spec.title}  [{spec.type_id}]  ({spec.category})")
        if spec.help:
            print(f"    {spec.help.splitlines()[0]}")
        for port in spec.inputs:
            print(f"    in   {port.name}: {port.type}{' (optional)' if port.optional else ''}")
        for port in spec.outputs:
            print(f"    out  {port.name}: {port.type}")
        for p in spec.params:
            extra = ""
            if p.choices:
                extra = f" one of {', '.join(p.choices)}"
            elif p.minimum is not None or p.maximum is not None:
                extra = f" in [{p.minimum}, {p.maximum}]"
            print(f"    param {p.name}: {p.kind} = {p.default!r}{extra}")
        print()
    return EXIT_OK


def _spec_dict(spec) -> dict[str, Any]:
    return {
        "type": spec.type_id, "title": spec.title, "category": spec.category, "help": spec.help,
        "inputs": [{"name": p.name, "type": p.type, "optional": p.optional} for p in spec.inputs],
        "outputs": [{"name": p.name, "type": p.type} for p in spec.outputs],
        "params": [{"name": p.name, "kind": p.kind, "default": p.default, "min": p.minimum, "max": p.maximum,
                    "choices": list(p.choices), "help": p.help} for p in spec.params],
    }


def cmd_models(args: argparse.Namespace) -> int:
    from studio.graph.spec import printable
    from studio.runtime import list_models
    from studio.runtime.vocabulary import read_vocabulary

    models = list_models([Path(f) for f in args.folders])
    if not models:
        print("no video models found")
        return EXIT_OK
    for info in models:
        print(_model_line(info))
        # Only a model whose folder lists its words (the embedded one); the list comes from disk: escaped.
        vocabulary = read_vocabulary(info.path)
        if vocabulary is not None:
            print("\n".join(printable(line) for line in vocabulary.describe()))
    refused = sum(1 for info in models if getattr(info, "refused", ""))
    if refused:
        print(f"{refused} of {len(models)} refused: Studio will not load them (see 'refused:' above)")
    return EXIT_OK


def _model_line(info) -> str:
    """One model per line; a refused one says so on the next, with the reason. Folder names come from the
    disk and are escaped: a name made of escape codes must show, not act on the terminal."""
    from studio.graph.spec import printable

    fields = vars(info) if hasattr(info, "__dict__") else {}
    name = fields.get("name", str(info))
    refused = fields.get("refused", "")
    parts = [f"{k}={v}" for k, v in fields.items() if k not in ("name", "refused") and v not in (None, "", ())]
    line = printable(f"{name}  " + "  ".join(parts))
    if refused:
        line += f"  REFUSED\n    refused: {printable(refused)}"
    return line


def cmd_verify(args: argparse.Namespace) -> int:
    from studio.media.verify import verify_file

    # Paths, not their text: verify reads each, checks it is a PEM certificate, and names the file in
    # a sentence when it is missing or is not one.
    anchors: list[str | Path] = [Path(p) for p in args.trust]
    if args.trust_local:
        anchors.append("local")
    report = verify_file(args.file, trust_anchors=anchors)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
