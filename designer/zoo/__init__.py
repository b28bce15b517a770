"""Where networks come from: the sources (torchvision, EfficientNet-Lite0, timm, a Python builder),
their families' knowledge (first conv, classifier, input size), the gallery listing, and weights
files. ``designer.model`` (recipe, ops, build, surgery, policy) builds on it."""
