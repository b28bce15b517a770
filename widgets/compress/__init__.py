"""The Compress step's window: start, stop and show ``designer.app.compress.compress_job``."""
