"""``python -m statmech.cli``: the ``statmech`` command."""

import sys

from .main import main

sys.exit(main())
