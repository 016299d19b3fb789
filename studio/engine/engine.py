"""Graph evaluation: dependency order, cached outputs, cancellation, events, per-node timing."""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio import warmup
from studio.engine import records
from studio.engine.assets import file_params, read_files, resolve_input, table_files
from studio.engine.cache import OutputCache
from studio.engine.events import (
    Event,
    Listener,
    NodeCached,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    NodeWarning,
    RunFinished,
    RunStarted,
)
from studio.engine.keys import digest as _digest
from studio.engine.keys import key_digest as _key_digest
from studio.engine.outputs import OutputPolicy, check_writable, records_folder, resolve_output
from studio.errors import Cancelled, NodeError, OutOfMemoryError, StudioError
from studio.graph import Graph, NodeRegistry, NodeSpec, ParamSpec, driven_links, dumps, validate
from studio.priority import lower_this_thread
from studio.values import Signal, as_signal

log = logging.getLogger(__name__)


class CancelToken:
    """Set by whoever wants a run to stop; checked between nodes and at every denoising step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class NodeContext:
    """What a node implementation may use while it runs: progress, cancel, memo, paths."""

    def __init__(self, engine: Engine, run_id: int, node_id: str, spec: NodeSpec,
                 input_keys: dict[str, str], base_dir: Path | None, emit: Callable[[Event], None],
                 cancel: CancelToken, graph_hash: str = "", outputs: OutputPolicy | None = None,
                 document: Callable[[], str] | None = None) -> None:
        self.engine = engine
        self._document = document
        self.outputs = outputs or OutputPolicy()  # where this run may write, and whether it may replace
        self.graph_hash = graph_hash  # identity of the whole document being run, for provenance
        self.run_id = run_id
        self.node_id = node_id
        self.spec = spec
        self.base_dir = base_dir
        self._input_keys = input_keys
        self._emit = emit
        self._cancel = cancel

    def progress(self, step: int, total: int, preview: Any = None, message: str = "") -> None:
        self._emit(NodeProgress(self.run_id, self.node_id, step, total, preview, message))

    def warn(self, message: str) -> None:
        self._emit(NodeWarning(self.run_id, self.node_id, message))

    def graph_document(self) -> str | None:
        """The graph being run as its file's JSON (for the clip's provenance), or None when not known or when
        it cannot be written as a file (then the clip is still made, without its graph)."""
        if self._document is None:
            return None
        try:
            return self._document()
        except StudioError:
            return None

    def is_cancelled(self) -> bool:
        return self._cancel.cancelled

    def check_cancelled(self) -> None:
        self._cancel.check()

    def input_key(self, port: str) -> str | None:
        """The cache identity of the value feeding ``port`` (stable while its upstream is unchanged)."""
        return self._input_keys.get(port)

    def memo(self, name: str, key_parts: Any, compute: Callable[[], Any]) -> Any:
        """A sub-result cached under the engine's budget, shared across runs and nodes.

        Use it for work that depends on only some inputs (a prompt encode does not depend on the
        seed) and for results worth keeping when a later part fails (latents before a decode).
        """
        digest, exact = _key_digest(key_parts)
        return self.engine._memo("memo:" + name + ":" + digest if exact else None, name, compute)

    def output_path(self, value: str) -> Path:
        """The file this node writes for its path parameter ``value``: inside the output folder, or the file
        the person chose for this node (see ``engine.outputs``). Versioning happens when the file is placed."""
        return resolve_output(self.outputs, self.node_id, value, self.base_dir)

    def resolve_path(self, value: str) -> Path:
        return resolve_input(value, self.base_dir)


@dataclass
class RunResult:
    status: str  # ok | failed | cancelled
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    graph_hash: str = ""  # of the graph as it ran (the editor may have changed since), for provenance

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class RunHandle:
    """A run on a worker thread."""

    def __init__(self, cancel: CancelToken) -> None:
        self.cancel_token = cancel
        self.result: RunResult | None = None
        self._done = threading.Event()
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def wait(self, timeout: float | None = None) -> RunResult | None:
        self._done.wait(timeout)
        return self.result

    @property
    def done(self) -> bool:
        return self._done.is_set()


class Engine:
    """Evaluates graphs. Holds the output cache between runs; one run at a time."""

    def __init__(self, registry: NodeRegistry, cache: OutputCache | None = None) -> None:
        self.registry = registry
        self.cache = cache if cache is not None else OutputCache()
        self._run_lock = threading.Lock()
        self._run_ids = itertools.count(1)
        self._last_parts: dict[str, dict] = {}  # node id -> key parts of its last evaluation
        self.memo_stats: dict[str, list[int]] = {}  # name -> [hits, misses]
        self.node_stats = {"ran": 0, "cached": 0}

    # ---- public
    def run(self, graph: Graph, targets: Iterable[str] | None = None, *, listener: Listener | None = None,
            cancel: CancelToken | None = None, base_dir: str | Path | None = None,
            outputs: OutputPolicy | None = None) -> RunResult:
        """Evaluate what ``targets`` need (default: every output node) in the calling thread.

        ``outputs``: where file-writing nodes may write (default: names in the graph resolve inside
        ``renders/`` beside the graph, existing files are never replaced)."""
        cancel = cancel or CancelToken()
        warmup.settle()  # the editor's warm-up may be importing the model stack right now
        with self._run_lock:
            return self._run(graph.copy(), targets, listener, cancel, Path(base_dir) if base_dir else None,
                             outputs or OutputPolicy())

    def start(self, graph: Graph, targets: Iterable[str] | None = None, *, listener: Listener | None = None,
              base_dir: str | Path | None = None, background: bool = False,
              outputs: OutputPolicy | None = None) -> RunHandle:
        """Evaluate on a worker thread; events reach ``listener`` from that thread.

        ``background``: the worker (and the threads it starts: torch's, an export's) steps down
        studio.priority.BACKGROUND nice steps, now none: lowered, an editor's render took 8x as long as
        `studio render` when other processes kept the cores busy, and stalled the editor more, not less."""
        snapshot = graph.copy()  # the editor keeps editing while this runs
        handle = RunHandle(CancelToken())
        targets = list(targets) if targets is not None else None

        def work() -> None:
            if background:
                lower_this_thread()
            try:
                handle.result = self.run(snapshot, targets, listener=listener, cancel=handle.cancel_token,
                                         base_dir=base_dir, outputs=outputs)
            finally:
                handle._done.set()

        handle.thread = threading.Thread(target=work, name="studio-engine", daemon=True)
        handle.thread.start()
        return handle

    def _document_of(self, graph: Graph, base_dir: Path | None) -> str:
        """The run's graph as file JSON (made once per graph object: only an exporter asks)."""
        cached = getattr(self, "_document_cache", None)
        if cached is not None and cached[0] is graph:
            return cached[1]
        text = dumps(graph, self.registry, base_dir)
        self._document_cache = (graph, text)
        return text

    def plan(self, graph: Graph, targets: Iterable[str] | None = None) -> list[str]:
        """Node ids a run needs, in evaluation (topological) order."""
        wanted = self._targets(graph, targets)
        needed = graph.upstream(wanted)
        order: list[str] = []
        indegree = {nid: 0 for nid in needed}
        for link in graph.links:
            if link.src in needed and link.dst in needed:
                indegree[link.dst] += 1
        ready = sorted(nid for nid, d in indegree.items() if d == 0)
        while ready:
            nid = ready.pop(0)
            order.append(nid)
            for link in graph.links_from(nid):
                if link.dst in indegree:
                    indegree[link.dst] -= 1
                    if indegree[link.dst] == 0:
                        ready.append(link.dst)
        return order

    def explain(self, graph: Graph, targets: Iterable[str] | None = None,
                base_dir: str | Path | None = None, outputs: OutputPolicy | None = None) -> dict[str, str]:
        """For each needed node: "cached", or why it would run again."""
        base = Path(base_dir) if base_dir else None
        outputs = outputs or OutputPolicy()
        keys: dict[str, str] = {}
        answer = {}
        for nid in self.plan(graph, targets):
            spec = self.registry.get(graph.nodes[nid].type)
            if spec is None:
                answer[nid] = "unknown node type"
                continue
            parts = self._key_parts(graph, nid, spec, keys, base, outputs)
            keys[nid] = _digest(parts)
            answer[nid] = "cached" if self.cache.peek(keys[nid]) else self._why(nid, parts, keys[nid])
        return answer

    # ---- evaluation
    def _targets(self, graph: Graph, targets: Iterable[str] | None) -> list[str]:
        if targets is not None:
            return [t for t in targets if t in graph.nodes]
        outs = []
        for nid, node in graph.nodes.items():
            spec = self.registry.get(node.type)
            if spec is not None and spec.is_output and not node.bypassed:
                outs.append(nid)
        if outs:
            return outs
        sources = {lk.src for lk in graph.links}
        return [nid for nid in graph.nodes if nid not in sources]

    def _run(self, graph: Graph, targets: Iterable[str] | None, listener: Listener | None,
             cancel: CancelToken, base_dir: Path | None, policy: OutputPolicy) -> RunResult:
        run_id = next(self._run_ids)
        started = time.perf_counter()

        def emit(event: Event) -> None:
            if listener is None:
                return
            try:
                listener(event)
            except Exception:  # a broken view must not break the render
                log.exception("an event listener failed on %r", type(event).__name__)

        order = self.plan(graph, targets)
        result = RunResult(status="ok")
        emit(RunStarted(run_id, tuple(order)))
        problems = validate(graph, self.registry, set(order))
        if problems:
            for problem in problems:
                nid = problem.node_id or (order[0] if order else "")
                message = f"{problem.where}: {problem.message}" if problem.where else problem.message
                result.failed.setdefault(nid, message)
                emit(NodeFailed(run_id, nid, message))
            return self._finish(result, "failed", started, run_id, emit,
                                message="; ".join(str(p) for p in problems))

        missing = self._missing_files(graph, order, base_dir) or self._unwritable(graph, order, base_dir, policy)
        if missing:
            for nid, message in missing:
                result.failed.setdefault(nid, message)
                emit(NodeFailed(run_id, nid, message))
            return self._finish(result, "failed", started, run_id, emit,
                                message="; ".join(f"node '{n}': {m}" for n, m in missing))

        keys: dict[str, str] = {}
        all_parts: dict[str, dict[str, Any]] = {}
        outputs: dict[str, dict[str, Any]] = {}
        for nid in order:
            spec = self.registry.get(graph.nodes[nid].type)
            assert spec is not None  # validated above
            all_parts[nid] = self._key_parts(graph, nid, spec, keys, base_dir, policy)
            keys[nid] = _digest(all_parts[nid])
        self.cache.pin(keys.values())
        document_hash = graph_hash(graph)
        result.graph_hash = document_hash
        on_disk = self._on_disk(graph, order, keys, all_parts, base_dir, policy)
        # what feeds only exporters whose clip is on disk (the model, the sampler) is not made at all
        needed = graph.upstream(self._targets(graph, targets), stop=on_disk)
        try:
            for nid in order:
                if cancel.cancelled:
                    return self._finish(result, "cancelled", started, run_id, emit)
                spec = self.registry.get(graph.nodes[nid].type)
                assert spec is not None
                key, parts = keys[nid], all_parts[nid]
                if nid not in needed or nid in on_disk:
                    # An exporter whose clip an earlier session wrote returns it; what feeds only such
                    # exporters (the model, the sampler) is not made at all.
                    if nid in on_disk:
                        outputs[nid] = on_disk[nid].values
                        self.cache.put(key, outputs[nid], label=f"node '{nid}' outputs")
                        self._last_parts[nid] = parts
                    result.cached.append(nid)
                    result.reasons[nid] = on_disk[nid].reason() if nid in on_disk else (
                        "not needed: what it feeds is already written")
                    self.node_stats["cached"] += 1
                    emit(NodeCached(run_id, nid))
                    continue
                cached = self.cache.get(key)
                gone = cached is not None and _written_file_gone(spec, cached)
                if gone:
                    cached = None  # the clip it wrote was moved or deleted since: write it again
                again = cached is not None and policy.again and _writes_files(spec)
                if again:
                    cached = None
                if cached is not None:
                    outputs[nid] = cached
                    result.cached.append(nid)
                    result.reasons[nid] = "cached"
                    self.node_stats["cached"] += 1
                    self._last_parts[nid] = parts
                    emit(NodeCached(run_id, nid))
                    continue
                reason = ("the file it wrote last time is gone" if gone else "asked to export again" if again
                          else self._why(nid, parts, key))
                result.reasons[nid] = reason
                self._last_parts[nid] = parts
                emit(NodeStarted(run_id, nid, reason))
                t0, t0_ns = time.perf_counter(), time.time_ns()
                try:
                    values = self._evaluate(graph, nid, spec, outputs, keys, base_dir, run_id, emit, cancel,
                                            document_hash, policy)
                except Cancelled:
                    return self._finish(result, "cancelled", started, run_id, emit)
                except StudioError as exc:
                    message = exc.message + (f" ({exc.hint})" if exc.hint else "")
                    if exc.port:
                        message = f"port '{exc.port}': {message}"
                    if exc.path:
                        message = f"file '{exc.path}': {message}"
                    result.failed[nid] = message
                    emit(NodeFailed(run_id, nid, message))
                    return self._finish(result, "failed", started, run_id, emit, message=f"node '{nid}': {message}")
                except Exception as exc:  # a bug, not the user's doing: say so plainly, log the details
                    log.exception("node '%s' (%s) crashed", nid, spec.type_id)
                    message = f"internal error in '{spec.title}': {type(exc).__name__}: {exc}"
                    result.failed[nid] = message
                    emit(NodeFailed(run_id, nid, message))
                    return self._finish(result, "failed", started, run_id, emit, message=f"node '{nid}': {message}")
                seconds = time.perf_counter() - t0
                outputs[nid] = values
                self.cache.put(key, values, label=f"node '{nid}' outputs")
                where = records_folder(policy, nid, base_dir) if _writes_files(spec) else None
                if where is not None and not graph.nodes[nid].bypassed:
                    # the file system's clock may run a tick behind ours: a companion written at once counts
                    records.save(where, self._record_key(graph, nid, parts, base_dir), values,
                                 t0_ns - 2_000_000_000)
                self.node_stats["ran"] += 1
                result.timings[nid] = seconds
                emit(NodeFinished(run_id, nid, seconds, _written_files(spec, values)))
        finally:
            self.cache.unpin()
        result.outputs = outputs
        return self._finish(result, "ok", started, run_id, emit)

    def _on_disk(self, graph: Graph, order: list[str], keys: dict[str, str], all_parts: dict[str, dict[str, Any]],
                 base_dir: Path | None, policy: OutputPolicy) -> dict[str, records.Reuse]:
        """The exporters of ``order`` not in the cache whose clip an earlier session wrote and left unchanged
        (none when the person asked to overwrite or to export again: those always write)."""
        if policy.overwrite or policy.again:
            return {}
        found = {}
        for nid in order:
            spec = self.registry.get(graph.nodes[nid].type)
            where = records_folder(policy, nid, base_dir)
            if (spec is None or where is None or not _writes_files(spec) or graph.nodes[nid].bypassed
                    or self.cache.peek(keys[nid])):
                continue
            reuse = records.find(where, self._record_key(graph, nid, all_parts[nid], base_dir))
            if reuse is not None:
                found[nid] = reuse
        return found

    def _record_key(self, graph: Graph, nid: str, parts: dict[str, Any], base_dir: Path | None) -> str:
        return records.record_key(parts, records.model_sources(graph, self.registry, nid, base_dir))

    def _missing_files(self, graph: Graph, order: list[str], base_dir: Path | None) -> list[tuple[str, str]]:
        """Input files that do not exist, all of them, before anything slow (a model load) starts."""
        missing = []
        for nid, what, value in read_files(graph, self.registry, order):
            path = resolve_input(value, base_dir)
            if not path.exists():
                missing.append((nid, f"file '{path}' of parameter '{what}' does not exist "
                                     "(pick the file again, or move it back)"))
        return missing

    def _unwritable(self, graph: Graph, order: list[str], base_dir: Path | None,
                    policy: OutputPolicy) -> list[tuple[str, str]]:
        """Outputs the run may not or cannot write (outside the output folder, read-only, disk full), all of
        them, before anything slow starts."""
        found = []
        for nid, pspec, value in file_params(graph, self.registry, order, written=True):
            try:
                target = resolve_output(policy, nid, value if isinstance(value, str) else "", base_dir)
                check_writable(target.parent, node_id=nid)
            except StudioError as exc:
                found.append((nid, f"parameter '{pspec.name}': " + exc.message + (f" ({exc.hint})" if exc.hint else "")))
        return found

    def _finish(self, result: RunResult, status: str, started: float, run_id: int,
                emit: Callable[[Event], None], message: str = "") -> RunResult:
        result.status = status
        result.seconds = time.perf_counter() - started
        emit(RunFinished(run_id, status, result.seconds, dict(result.timings), tuple(result.cached),
                         tuple(result.failed), message))
        return result

    def _evaluate(self, graph: Graph, nid: str, spec: NodeSpec, outputs: dict[str, dict[str, Any]],
                  keys: dict[str, str], base_dir: Path | None, run_id: int,
                  emit: Callable[[Event], None], cancel: CancelToken, document_hash: str,
                  policy: OutputPolicy) -> dict[str, Any]:
        node = graph.nodes[nid]
        inputs: dict[str, Any] = {}
        input_keys: dict[str, str] = {}
        for port in spec.inputs:
            link = graph.link_into(nid, port.name)
            inputs[port.name] = None if link is None else outputs[link.src][link.src_port]
            if link is not None:
                input_keys[port.name] = keys[link.src] + ":" + link.src_port
        if node.bypassed:
            return self._bypass(spec, inputs)
        params = spec.default_params()
        params.update(node.params)
        ctx = NodeContext(self, run_id, nid, spec, input_keys, base_dir, emit, cancel, document_hash, policy,
                          document=lambda: self._document_of(graph, base_dir))
        for pspec, link in driven_links(graph, nid, spec):
            params[pspec.name] = driven_value(pspec, outputs[link.src][link.src_port], ctx)
            input_keys[pspec.name] = keys[link.src] + ":" + link.src_port
        assert spec.run is not None, f"node type {spec.type_id} has no implementation"
        try:
            raw = spec.run(ctx, **inputs, **params)
        except OutOfMemoryError:
            # Memory ran short: give back everything this run does not use, then try once more.
            log.warning("out of memory in node '%s': releasing cached outputs and retrying once", nid)
            self.cache.trim()
            raw = spec.run(ctx, **inputs, **params)
        return self._outputs(spec, raw)

    @staticmethod
    def _outputs(spec: NodeSpec, raw: Any) -> dict[str, Any]:
        names = [p.name for p in spec.outputs]
        if len(names) == 1 and not (isinstance(raw, dict) and set(raw) == set(names)):
            return {names[0]: raw}
        if not isinstance(raw, dict):
            raw = {} if raw is None else raw
        missing = [n for n in names if n not in raw]
        if missing:
            raise RuntimeError(f"node type {spec.type_id} returned no value for output(s) {missing}")
        return {n: raw[n] for n in names}

    @staticmethod
    def _bypass(spec: NodeSpec, inputs: dict[str, Any]) -> dict[str, Any]:
        values = {}
        for out in spec.outputs:
            source = next((p.name for p in spec.inputs if p.type == out.type and inputs.get(p.name) is not None),
                          None)
            if source is None:
                raise StudioError(f"cannot bypass '{spec.title}': no {out.type} input to pass through",
                                  hint="un-bypass the node or connect such an input")
            values[out.name] = inputs[source]
        return values

    def _memo(self, key: str | None, name: str, compute: Callable[[], Any]) -> Any:
        stats = self.memo_stats.setdefault(name, [0, 0])
        if key is None:  # a key with a value of no exact content: nothing could find the result again
            stats[1] += 1
            return compute()
        self.cache.pin_more(key)  # what this run computed stays while it runs, even when memory runs short
        value = self.cache.get(key, _MISSING)
        if value is not _MISSING:
            stats[0] += 1
            return value
        stats[1] += 1
        value = compute()
        self.cache.put(key, value, label=f"memo {name}")
        return value

    # ---- cache keys and the reasons for re-runs
    def _key_parts(self, graph: Graph, nid: str, spec: NodeSpec, keys: dict[str, str],
                   base_dir: Path | None, policy: OutputPolicy) -> dict[str, Any]:
        node = graph.nodes[nid]
        params = spec.default_params()
        params.update(node.params)
        files, writes = {}, {}
        for pspec in spec.params:
            value = params.get(pspec.name)
            if pspec.kind == "path" and pspec.output_file:
                # Where it writes, not the file there: a written clip changing the stamp must not re-run it.
                writes[pspec.name] = policy.key(nid, base_dir)
            elif pspec.kind == "path" and isinstance(value, str) and value:
                files[pspec.name] = _file_stamp(value, base_dir)
            elif pspec.columns:  # a table's files (LoRAs): a file replaced under the same name re-runs the node
                for label, name in table_files(pspec, value):
                    files[label] = _file_stamp(name, base_dir)
        inputs = {}
        for port in spec.inputs:
            link = graph.link_into(nid, port.name)
            if link is not None:
                inputs[port.name] = [link.src, keys.get(link.src, "?"), link.src_port]
        for pspec, link in driven_links(graph, nid, spec):
            # A driven parameter's stored value is not used: the upstream result is what counts.
            params.pop(pspec.name, None)
            inputs[pspec.name] = [link.src, keys.get(link.src, "?"), link.src_port]
        return {"type": spec.type_id, "version": spec.version, "bypassed": node.bypassed,
                "params": params, "files": files, "inputs": inputs, "writes": writes}

    def _why(self, nid: str, parts: dict[str, Any], key: str) -> str:
        last = self._last_parts.get(nid)
        if last is None:
            return "first run"
        if _digest(last) == key:
            if key in self.cache.evicted:
                return "its outputs were evicted from the cache to stay within the memory budget"
            return "its outputs were not kept (the last run stopped before it finished)"
        reasons = []
        if last["type"] != parts["type"] or last["version"] != parts["version"]:
            reasons.append("node type changed")
        if last["bypassed"] != parts["bypassed"]:
            reasons.append("bypass " + ("turned on" if parts["bypassed"] else "turned off"))
        for name in sorted(set(last["params"]) | set(parts["params"])):
            old, new = last["params"].get(name), parts["params"].get(name)
            if old != new:
                reasons.append(f"parameter '{name}' changed ({describe_change(old, new)})")
        for name in sorted(set(last["files"]) & set(parts["files"])):
            if last["files"][name] != parts["files"][name] and last["params"].get(name) == parts["params"].get(name):
                reasons.append(f"file of '{name}' changed on disk")
        if last.get("writes") != parts.get("writes"):
            reasons.append("where it writes changed (output folder, chosen file, overwrite or draft)")
        for name in sorted(set(last["inputs"]) | set(parts["inputs"])):
            old, new = last["inputs"].get(name), parts["inputs"].get(name)
            if old is None or new is None:
                reasons.append(f"input '{name}' " + ("connected" if old is None else "disconnected"))
            elif old[0] != new[0] or old[2] != new[2]:
                reasons.append(f"input '{name}' now comes from '{new[0]}.{new[2]}'")
            elif old[1] != new[1]:
                reasons.append(f"input '{name}' changed (upstream node '{new[0]}' changed)")
        return "; ".join(reasons) or "its inputs changed"


_MISSING = object()


def draft_copy(graph: Graph, registry: NodeRegistry) -> tuple[Graph, list[str]]:
    """The graph as a draft render runs it: every parameter a node's ``draft`` role pairs with a draft
    parameter (Generate Video's ``steps`` with ``draft_steps``, ``guidance`` with ``draft_guidance``) runs at
    the smaller of the two (same seed, same everything else). The document itself is not touched. Returns the
    copy and the ids of the nodes it changed."""
    draft = graph.copy()
    changed = []
    for nid, node in draft.nodes.items():
        spec = registry.get(node.type)
        if spec is None or not spec.roles.draft:
            continue
        params = spec.default_params() | node.params
        for name, draft_name in spec.roles.draft:
            fewer = min(params[name], params[draft_name])  # guidance 2.5 drafts at 2.5, not 2
            if fewer != params[name]:
                draft.set_param(nid, name, fewer)
                if nid not in changed:
                    changed.append(nid)
    return draft, changed


def preview_targets(graph: Graph, registry: NodeRegistry) -> list[str]:
    """What a look at the result needs without writing the final file: every output node except exporters,
    and in an exporter's place the nodes that feed it (so the clip is made and shown, and nothing is written
    where the finished clip goes). The editor's draft renders run these unless the person asks for an export."""
    targets: list[str] = []
    for nid, node in graph.nodes.items():
        spec = registry.get(node.type)
        if spec is None or not spec.is_output or node.bypassed:
            continue
        feeds = [link.src for link in graph.links if link.dst == nid] if spec.roles.exporter else [nid]
        targets.extend(t for t in feeds if t not in targets)
    return targets


def driven_value(pspec: ParamSpec, value: Any, ctx: NodeContext) -> Any:
    """What a node gets for a number parameter driven by a link: the per-frame Signal when the parameter is
    animatable, else one number (a FLOAT as is, a Signal's mean), kept within the parameter's range."""
    low = -math.inf if pspec.minimum is None else pspec.minimum
    high = math.inf if pspec.maximum is None else pspec.maximum
    signal = as_signal(value)
    if signal is None:
        raise NodeError(f"nothing arrived to drive parameter '{pspec.name}'", port=pspec.name,
                        hint="check the node linked into it")
    values = np.asarray(signal.values, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise NodeError(f"the signal driving parameter '{pspec.name}' is empty or not finite", port=pspec.name)
    if pspec.animatable:
        clipped = np.clip(values, low, high)
        if not np.array_equal(clipped, values):
            ctx.warn(f"parameter '{pspec.name}': the driving signal leaves {_num(low)}..{_num(high)}; "
                     "values outside were clamped")
        return Signal(clipped.astype(np.float32), signal.fps, label=signal.label, events=signal.events)
    number = float(values.mean()) if values.size > 1 else float(values[0])
    if values.size > 1 and float(values.max() - values.min()) > 1e-6:
        ctx.warn(f"parameter '{pspec.name}' takes one value per clip: the driving signal's mean "
                 f"{number:.3g} is used")
    if not low <= number <= high:
        ctx.warn(f"parameter '{pspec.name}': {number:.3g} is outside {_num(low)}..{_num(high)}; clamped")
        number = min(max(number, low), high)
    return int(round(number)) if pspec.kind == "int" else number


def _num(x: float) -> str:
    return f"{x:g}"


def graph_hash(graph: Graph) -> str:
    """sha256 of what the graph computes: node types, parameters and links (not positions or titles)."""
    nodes = {nid: [n.type, n.version, n.bypassed, n.params] for nid, n in graph.nodes.items()}
    links = sorted([lk.src, lk.src_port, lk.dst, lk.dst_port] for lk in graph.links)
    return "sha256:" + _digest({"nodes": nodes, "links": links})


def _writes_files(spec: NodeSpec) -> bool:
    return any(p.kind == "path" and p.output_file for p in spec.params)


def _written_files(spec: NodeSpec, values: dict[str, Any]) -> tuple[str, ...]:
    """The files a file-writing node reports in its outputs (its path outputs)."""
    if not _writes_files(spec):
        return ()
    return tuple(str(v) for v in values.values() if isinstance(v, str | Path) and str(v))


def _written_file_gone(spec: NodeSpec, cached: dict[str, Any]) -> bool:
    """Whether a file-writing node's cached result names a file that is no longer there."""
    return any(not os.path.exists(v) for v in _written_files(spec, cached))


def _file_stamp(value: str, base_dir: Path | None) -> list[Any]:
    path = resolve_input(value, base_dir)
    try:
        st = os.stat(path)
    except OSError:
        return [str(path), None]
    # inode and ctime too: a file replaced by another of the same size and mtime (a restore, cp -p, mv) differs
    return [str(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def _brief(value: Any, around: int = 0) -> str:
    """repr(value) in about 30 characters; a long one cut to show the part from ``around`` (where it differs)."""
    text = repr(value)
    if len(text) <= 30:
        return text
    start = max(0, min(around - 8, len(text) - 27))
    return ("..." if start else "") + text[start:start + 27] + ("..." if start + 27 < len(text) else "")


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def describe_change(old: Any, new: Any) -> str:
    """What changed in a parameter, where in it: a shot list's row 7 prompt, not the first 27 characters of the
    whole table (the log cut "parameter 'shots' changed" before the part that changed)."""
    where: list[str] = []
    while True:
        if isinstance(old, dict) and isinstance(new, dict):
            keys = [k for k in (*old, *(k for k in new if k not in old)) if old.get(k) != new.get(k)]
            if len(keys) != 1 or keys[0] not in old or keys[0] not in new:
                break
            where.append(str(keys[0]))
            old, new = old[keys[0]], new[keys[0]]
        elif isinstance(old, list | tuple) and isinstance(new, list | tuple) and len(old) == len(new):
            rows = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
            if len(rows) > 1 and sorted(map(repr, old)) == sorted(map(repr, new)):
                # the same rows in another order (a shot moved up): a diff of the table's text is unreadable
                return " ".join(where) + (": " if where else "") + f"rows {rows[0] + 1}-{rows[-1] + 1} reordered"
            if len(rows) != 1:
                break
            where.append(f"row {rows[0] + 1}")
            old, new = old[rows[0]], new[rows[0]]
        else:
            break
    prefix = " ".join(where) + ": " if where else ""
    if isinstance(old, list | tuple) and isinstance(new, list | tuple) and len(old) != len(new):
        return f"{prefix}{len(old)} -> {len(new)} rows"
    at = _first_difference(repr(old), repr(new))
    return f"{prefix}{_brief(old, at)} -> {_brief(new, at)}"
