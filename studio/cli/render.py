"""`studio render` and `studio demo`: run a graph to its files, headless, one job or a batch (here or on a farm)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from studio.cli.exits import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK
from studio.cli.progress import TerminalProgress, print_summary
from studio.cli.registry import load_registry
from studio.errors import GraphValidationError, StudioError

EXAMPLE_GRAPH = "first-clip.studio.json"


def add_commands(sub) -> None:  # noqa: ANN001 - argparse's private subparsers action
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
    p.add_argument("--shots", metavar="SHOTS",
                   help="a sequence: render only these shots (3,7 or 2-4); the others come from the shot store "
                   "(on disk, shared by every run) when they rendered before with the same settings, else are "
                   "left out of the clip (each said)")
    p.add_argument("--seeds", metavar="SEEDS",
                   help="render once per seed, one after another: 1-4, 1,3,7 (outputs named clip_seed3.mp4)")
    p.add_argument("--sweep", action="append", default=[], metavar="NODE.PARAM=V1,V2,...",
                   help="render once per value (repeatable; with --seeds, every combination)")
    p.add_argument("--farm", metavar="local|ADDRESS",
                   help="render the jobs on a Ray cluster: 'local' starts one on this machine, else a Ray "
                   "address (needs pip install 'studio[farm]')")
    p.add_argument("--workers", type=int, metavar="N",
                   help="with --farm: how many workers (default: one per GPU, else 2)")
    p.add_argument("--priority", type=int, default=0, metavar="N",
                   help="with --farm: the batch's priority (higher starts first; within one priority, queue order)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to the terminal")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("demo", help="render the example graph with the embedded model")
    p.add_argument("-o", "--output", default="first-clip.mp4", help="where to write the clip")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo clip of the same name")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)


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

    registry = load_registry()
    graph_path = Path(args.graph)
    graph = load_graph(graph_path, registry)
    chosen: dict[str, Path] = {}
    apply_overrides(graph, registry, args.overrides, chosen)
    if args.shots:
        pick_shots(graph, registry, args.shots)
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


def pick_shots(graph, registry, shots: str) -> None:
    """``--shots 3,7``: every sequence generator (a node with an ``only_shots`` parameter) renders only those."""
    sequences = [nid for nid, node in graph.nodes.items()
                 if (spec := registry.get(node.type)) is not None and spec.param("only_shots") is not None]
    if not sequences:
        raise StudioError(f"--shots {shots}: the graph has no sequence to pick shots from",
                          hint="--shots works on a graph with a Shot List and Generate Sequence")
    for nid in sequences:
        graph.set_param(nid, "only_shots", shots)


class ShotLines:
    """A line per shot of a sequence (rendering and why, done, from the cache, left out) with the whole
    render's progress and time left, above the step bar; the events go on to ``listener`` unchanged."""

    def __init__(self, listener, quiet: bool) -> None:  # noqa: ANN001 - any engine listener
        self.listener, self.quiet = listener, quiet
        self.started: dict[str, float] = {}

    def __call__(self, event) -> None:  # noqa: ANN001 - an engine event
        import time

        from studio.directing.shots import parse_shot_message
        from studio.engine import NodeProgress, NodeStarted

        self.listener(event)
        if self.quiet:
            return
        if isinstance(event, NodeStarted):
            self.started[event.node_id] = time.perf_counter()
            return
        if not isinstance(event, NodeProgress) or not event.message:
            return
        found = parse_shot_message(event.message)
        if found is None and not (event.message.startswith("rendered ") and event.step >= event.total):
            return
        if found is not None and found[2].startswith("step "):
            return  # the bar shows steps
        share = event.step / event.total if event.total else 1.0
        elapsed = time.perf_counter() - self.started.get(event.node_id, time.perf_counter())
        if found is None:
            where = f"all shots in {_clock(elapsed)}"
        elif 0 < share < 1 and elapsed > 0:
            where = f"overall {share:.0%}, about {_clock(elapsed * (1 - share) / share)} left"
        else:
            where = f"overall {share:.0%}"
        _line_above_bars(f"  {event.message}  [{where}]")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else (
        f"{seconds // 60}:{seconds % 60:02d}")


def _line_above_bars(text: str) -> None:
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


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
    from dataclasses import replace

    from studio.farm.console import render_on_farm

    jobs = [replace(job, priority=args.priority) for job in jobs]
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
        progress = TerminalProgress(graph, registry, quiet or not sys.stderr.isatty(),
                             label=f"job {job.index}/{len(jobs)}")
        started = time.perf_counter()
        result = _run_to_end(engine, graph, ShotLines(progress, quiet or not sys.stderr.isatty()), job.base_dir,
                             policy)
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

    registry = load_registry()
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
    progress = TerminalProgress(graph, registry, quiet)
    result = _run_to_end(engine, graph, ShotLines(progress, quiet), base_dir, outputs)
    progress.close()
    print_summary(graph, registry, result)
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
            if str(result.reasons.get(nid, "")).startswith("the same clip"):  # unchanged work, its clip kept
                print(f"already there: {written} (the same clip; --overwrite writes it again)")
                continue
            note = "" if written.name == asked else (
                f" (a new version: {asked} exists; --overwrite replaces Studio's own earlier output)")
            print(f"wrote {written}{note}")
    return EXIT_OK


def _run_to_end(engine, graph, listener, base_dir, outputs):  # noqa: ANN001, ANN202
    """Run on a worker thread (so Ctrl+C reaches this thread), cancelling at the next step on Ctrl+C.

    The worker renders unwatched: a terminal shows a step bar, never frames, so the sampler makes no live
    preview (a whole-clip decode at every step). The clip, its files and its records are the same."""
    import threading

    from studio import warmup
    from studio.engine import CancelToken
    from studio.runtime.watching import unwatched

    cancel, outcome = CancelToken(), {}

    def work() -> None:
        with unwatched():
            outcome["result"] = engine.run(graph, listener=listener, cancel=cancel, base_dir=base_dir,
                                           outputs=outputs)

    worker = threading.Thread(target=work, name="studio-engine", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        print("\ncancelling at the next step...", file=sys.stderr)
        cancel.cancel()
        worker.join()
    finally:
        warmup.end_gc_pause()  # the program paused collection until a model loaded; a graph may load none
    return outcome.get("result")
