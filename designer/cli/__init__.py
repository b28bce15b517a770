"""The command line: ``python -m designer COMMAND``."""
