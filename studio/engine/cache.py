"""The output cache: node outputs and node sub-results under a memory budget, least recently used out first."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)



def default_budget() -> int:
    """A third of physical memory, at most 16 GB: room for a model, its outputs and the editor beside it."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on every platform
        physical = 12 * 1024**3
    return int(min(physical // 3, 16 * 1024**3))


def measure(value: Any, _depth: int = 0) -> int:
    """Bytes a cached value holds: arrays and tensors by their buffers, models by ``nbytes``."""
    if _depth > 6:
        return 0
    # a clip spooled to disk (a long sequence) counts what it holds in memory, not its length: counted at its
    # full size it would push the loaded model out of the budget
    resident = getattr(value, "resident_nbytes", None)
    if isinstance(resident, int) and not isinstance(value, type):
        return resident
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and not isinstance(value, type):
        return nbytes
    if hasattr(value, "element_size") and hasattr(value, "numel"):  # a torch tensor, without importing torch
        return int(value.element_size() * value.numel())
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(measure(v, _depth + 1) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return sys.getsizeof(value) + sum(measure(v, _depth + 1) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sys.getsizeof(value) + sum(
            measure(getattr(value, name), _depth + 1) for name in value.__dataclass_fields__
        )
    return sys.getsizeof(value)


@dataclass
class Entry:
    value: Any
    nbytes: int
    label: str  # what it is, for logs and the memory view: "node 'load' outputs", "memo encode_prompt"


class OutputCache:
    """Key -> value with a byte budget. Thread-safe; the engine pins what the running graph uses."""

    def __init__(self, budget_bytes: int | None = None) -> None:
        self.budget_bytes = default_budget() if budget_bytes is None else budget_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._pinned: set[str] = set()
        self.evicted: set[str] = set()  # keys evicted for memory, so the engine can say why a node re-runs
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return sum(e.nbytes for e in self._entries.values())

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return default
            self.hits += 1
            self._entries.move_to_end(key)
            return entry.value

    def peek(self, key: str) -> bool:
        """Whether ``key`` is cached, without counting a hit or touching its age."""
        with self._lock:
            return key in self._entries

    def put(self, key: str, value: Any, label: str = "") -> None:
        size = measure(value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None and old.value is not value:
                _release(old.value)
            self._entries[key] = Entry(value, size, label)
            self.evicted.discard(key)
            self._evict(protect={key})

    def pin(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._pinned = set(keys)

    def pin_more(self, key: str) -> None:
        with self._lock:
            self._pinned.add(key)

    def unpin(self) -> None:
        with self._lock:
            self._pinned = set()
            self._evict(protect=set())

    def trim(self) -> None:
        """Evict everything the running graph does not use: memory ran short."""
        with self._lock:
            budget, self.budget_bytes = self.budget_bytes, 0
            try:
                self._evict(protect=set())
            finally:
                self.budget_bytes = budget

    def discard(self, key: str) -> None:
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is not None:
            _release(entry.value)

    def clear(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            _release(entry.value)

    def _evict(self, protect: set[str]) -> None:
        total = sum(e.nbytes for e in self._entries.values())
        for key in list(self._entries):
            if total <= self.budget_bytes:
                break
            if key in protect or key in self._pinned:
                continue
            entry = self._entries.pop(key)
            total -= entry.nbytes
            self.evicted.add(key)
            log.info("cache: evicted %s (%.1f MB) to stay within the budget", entry.label, entry.nbytes / 1e6)
            if not any(other.value is entry.value for other in self._entries.values()):
                _release(entry.value)


def _release(value: Any) -> None:
    """Give a value's memory back (models unload their weights), for values nobody else holds."""
    values = value.values() if isinstance(value, dict) else [value]
    for item in values:
        release = getattr(item, "release", None)
        if callable(release):
            try:
                release()
            except Exception:  # releasing memory must never fail a run
                log.exception("releasing a cached value failed")
