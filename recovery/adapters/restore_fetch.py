"""Entry point kept under its old name: restores run `python -m recovery.adapters.restore_fetch` on the target."""

import sys

from recovery.backups.restore_fetch import main

if __name__ == "__main__":
    sys.exit(main())
