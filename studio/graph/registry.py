"""The registry of node types: the built-in library in ``nodes/`` and plugin packs via entry points."""

from __future__ import annotations

import difflib
import importlib
import logging
import pkgutil
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from types import ModuleType

from studio.graph.spec import NodeSpec, compatible

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "studio.nodes"
BUILTIN_PACKAGE = "nodes"


class NodeRegistry:
    """Node types by id. Passed explicitly to whoever needs it: there is no global registry."""

    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        self.load_errors: list[str] = []  # plugin packs that failed to load, for the UI to show
        for spec in specs:
            self.register(spec)

    @classmethod
    def default(cls) -> NodeRegistry:
        """The built-in library plus every installed plugin pack."""
        registry = cls()
        registry.load_package(BUILTIN_PACKAGE)
        registry.load_entry_points()
        return registry

    def register(self, spec: NodeSpec) -> None:
        if spec.type_id in self._specs and self._specs[spec.type_id] is not spec:
            raise ValueError(f"node type '{spec.type_id}' is registered twice")
        self._specs[spec.type_id] = spec

    def load_module(self, module: ModuleType) -> int:
        """Register every NodeSpec a module defines at top level (or lists in NODES)."""
        specs = getattr(module, "NODES", None)
        if specs is None:
            specs = [v for v in vars(module).values() if isinstance(v, NodeSpec)]
        for spec in specs:
            self.register(spec)
        return len(specs)

    def load_package(self, package_name: str) -> None:
        package = importlib.import_module(package_name)
        self.load_module(package)
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                self.load_module(importlib.import_module(info.name))

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        for ep in entry_points(group=group):
            try:
                target = ep.load()
                if isinstance(target, ModuleType):
                    self.load_module(target)
                elif isinstance(target, NodeSpec):
                    self.register(target)
                else:
                    for spec in target:
                        self.register(spec)
            except Exception as exc:  # a broken plugin must not stop the app
                message = f"node pack '{ep.name}' ({ep.value}) failed to load: {exc}"
                log.warning(message)
                self.load_errors.append(message)

    # ---- lookup
    def __contains__(self, type_id: object) -> bool:
        return type_id in self._specs

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: (s.category, s.title)))

    def __len__(self) -> int:
        return len(self._specs)

    def get(self, type_id: str) -> NodeSpec | None:
        return self._specs.get(type_id)

    def with_role(self, role: str) -> list[NodeSpec]:
        """The node types that declare ``role`` (a field of ``Roles``: exporter, camera_source, draft, ...)."""
        return [spec for spec in self if getattr(spec.roles, role)]

    def types_with_role(self, role: str) -> set[str]:
        return {spec.type_id for spec in self.with_role(role)}

    def closest(self, name: str) -> str | None:
        """The known type id nearest to a misspelt one, for 'did you mean ...'."""
        by_lower = {t.lower(): t for t in self._specs}
        short = {t.rsplit(".", 1)[-1].lower(): t for t in self._specs}
        needle = name.lower()
        for table in (by_lower, short):
            match = difflib.get_close_matches(needle, list(table), n=1, cutoff=0.6)
            if match:
                return table[match[0]]
        match = difflib.get_close_matches(needle.rsplit(".", 1)[-1], list(short), n=1, cutoff=0.6)
        return short[match[0]] if match else None

    def compatible_with(self, port_type: str, direction: str) -> list[tuple[NodeSpec, str]]:
        """Node types with a port that can link to a port of ``port_type``.

        ``direction`` is the direction of the dragged port: "output" finds inputs to drop on,
        "input" finds outputs. Returns (spec, port name) pairs.
        """
        found = []
        for spec in self:
            ports = spec.inputs if direction == "output" else spec.outputs
            for port in ports:
                ok = compatible(port_type, port.type) if direction == "output" else compatible(port.type, port_type)
                if ok:
                    found.append((spec, port.name))
                    break
        return found
