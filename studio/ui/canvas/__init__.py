"""The node canvas: scene, view, node and link items, gestures, search, minimap, clipboard."""
