"""Scripts that regenerate docs/screenshots from a real window under Xvfb (not part of the app)."""
