"""The Export dialog: formats, parity checks and the script preview."""
