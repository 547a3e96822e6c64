"""``python -m support.testhosts`` (what ``scripts/testhosts`` runs)."""

import sys

from .cli import main

sys.exit(main())
