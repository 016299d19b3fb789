"""Studio: node-based directed video synthesis on your own GPU."""

__version__ = "0.1.0"
