"""``python -m gp_autoloss ...``: the same as the ``gp-autoloss`` command."""

import sys

from gp_autoloss.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
