"""The standalone training script: the recipe written out as readable PyTorch."""
