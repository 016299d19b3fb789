"""Recipes that drive a loaded model over time: camera steering, chained segments, timed text.

``studio.directing`` plans (camera tracks, warps, prompt weights); these run the plan on a model. torch and
the runtime are imported inside the functions, so the node library can import these modules at start-up.
"""
