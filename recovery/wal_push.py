"""Entry point kept under its old name: hosts run `python -m recovery.wal_push` as archive_command."""

import sys

from recovery.wal.push import main

if __name__ == "__main__":
    sys.exit(main())
