"""The Design tab: canvas, layer tree, properties, layer library, analyzer and edits."""
