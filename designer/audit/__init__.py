"""Data checks ("Check my data"): label issues, near-duplicates, outliers, imbalance and odd images,
found from the cached features the recommended mode already computes. Nothing here touches a file:
decisions go into the project's overrides (``designer.data.overrides``)."""
