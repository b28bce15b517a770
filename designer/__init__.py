"""NetSurgeon's Qt-free core: recipes, model building, analysis, training and export."""

__version__ = "0.1.0"
