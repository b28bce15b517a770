"""``python -m designer``: see ``designer.cli.main``."""

import sys

from designer.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
