"""Panels beside the canvas that follow the renders: the queue (and, to come, the history and metrics)."""
