"""`python -m acgs_deploy.backup backup|verify|restore ...`"""

import sys

from acgs_deploy.backup.cli import main

sys.exit(main())
