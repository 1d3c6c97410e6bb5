"""`python -m harness.cli`: the same as the `cascade` script."""

import sys

from . import main

__all__: list[str] = []

sys.exit(main())
