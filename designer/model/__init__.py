"""The network itself: recipes and their edit ops, building them, weights, the gallery and the training
policy (freeze, LR factors, BatchNorm)."""
