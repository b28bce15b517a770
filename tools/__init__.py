"""Maintainers' tools: screenshots, data extracts. Not installed with the app."""
