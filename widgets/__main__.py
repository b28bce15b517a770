"""``python -m widgets``: the window (see widgets/shell/launcher.py)."""

import sys

from widgets.shell.launcher import main

if __name__ == "__main__":
    sys.exit(main())
