"""``python -m studio.cli``: the same as the ``studio`` program."""

import sys

from studio.cli.program import main

sys.exit(main())
