"""Training and judging a network: options, events, the engine, cached features, the linear probe, runs on
disk and evaluation."""
