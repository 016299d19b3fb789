"""How much memory a process may still take under its RLIMIT_DATA (the verify children read it as they go)."""

from __future__ import annotations

try:  # Unix only: elsewhere the time limit (enforced by the parent) is the bound
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]


def data_in_use() -> int | None:
    """Bytes of data (heap and private mappings) in use now, as RLIMIT_DATA counts them (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def memory_headroom() -> int | None:
    """Bytes of data this process may still take under its RLIMIT_DATA; None when unlimited or unknown."""
    if resource is None:
        return None
    limit = resource.getrlimit(resource.RLIMIT_DATA)[0]
    used = data_in_use()
    if limit == resource.RLIM_INFINITY or used is None:
        return None
    return limit - used
