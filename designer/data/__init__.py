"""Image folders: scanning, splits, decoding images, loaders and transforms."""
