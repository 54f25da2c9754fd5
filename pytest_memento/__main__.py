"""``python -m pytest_memento``: the ``memento`` command."""

import sys

from .cli import main

sys.exit(main())
