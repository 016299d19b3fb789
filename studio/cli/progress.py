"""Terminal progress for renders: a bar per node's steps, warnings as lines, and the node times at the end."""

from __future__ import annotations

import sys


class TerminalProgress:
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
                                desc=f"  {self.label + ' ' if self.label else ''}{bar_text(event.message)}")
            desc = f"  {self.label + ' ' if self.label else ''}{bar_text(event.message)}"
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


def print_summary(graph, registry, result) -> None:
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


def bar_text(message: str) -> str:
    """What a step bar is labelled with: a sequence's "shot 3/6 'lift'" and its step, not the sentence on why
    the shot runs (that is a line of its own above the bars); any other message as it is."""
    from studio.directing.shots import parse_shot_message

    found = parse_shot_message(message)
    if found is None:
        return message or "steps"
    head = message.partition(": ")[0]
    return f"{head} {found[2]}" if found[2].startswith("step ") else head
