"""The Results tab: confusion matrix, per-class accuracy, mistakes and predictions."""
