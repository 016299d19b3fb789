"""`studio validate`, `nodes`, `models` and `verify`: what a graph, the node library, the models and a clip say."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from studio.cli.exits import EXIT_FAILED, EXIT_OK
from studio.cli.registry import load_registry


def add_commands(sub) -> None:  # noqa: ANN001 - argparse's private subparsers action
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


def cmd_validate(args: argparse.Namespace) -> int:
    from studio.graph import load_graph, validate

    registry = load_registry()
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
    registry = load_registry()
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
                extra = f" {'one of' if p.kind == 'enum' else 'e.g.'} {', '.join(p.choices)}"
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
