"""Studio's built-in node library: one module per family; each node is a declaration plus one function.

Modules here must not import torch at import time (the editor starts without it); node functions
import the runtime when they run.
"""
