"""Looking at a built network without changing it: tracing, the layer graph, folding and the analyzer."""
