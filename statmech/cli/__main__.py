"""``python -m statmech.cli``: the ``statmech`` command."""

import sys

from .app import main

sys.exit(main())
