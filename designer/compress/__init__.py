"""Shrink a trained network for a device: structured channel pruning to a goal, then int8 quantization."""
