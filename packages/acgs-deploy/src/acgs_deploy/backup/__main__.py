"""`python -m acgs_deploy.backup backup|verify|restore ...` (see `acgs_deploy.cli.backup_main`)."""

import sys

from acgs_deploy.cli import backup_main

if __name__ == "__main__":
    sys.exit(backup_main())
