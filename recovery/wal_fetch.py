"""Entry point kept under its old name: hosts run `python -m recovery.wal_fetch` as restore_command."""

import sys

from recovery.wal.fetch import main

if __name__ == "__main__":
    sys.exit(main())
