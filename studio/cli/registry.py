"""The node registry the commands use, with a warning for each node pack that failed to load."""

from __future__ import annotations

import sys


def load_registry():  # noqa: ANN201 - NodeRegistry, imported late (node modules load on first use)
    from studio.graph import NodeRegistry

    registry = NodeRegistry.default()
    for message in registry.load_errors:
        print(f"warning: {message}", file=sys.stderr)
    return registry
