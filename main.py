"""Launch NetSurgeon: ``python main.py`` opens the built-in default, EfficientNet-Lite0 with its
real ImageNet weights (no download). ``--help`` lists the options. The window's code is in
``widgets/shell/launcher.py`` (also ``python -m widgets``); this file stays as the mission's launcher.
"""

import sys

from widgets.shell.launcher import main

if __name__ == "__main__":
    sys.exit(main())
