"""The layer-graph canvas: scene, items and view."""
