"""``python -m mbc_rules``: the same as the ``mbc-rules`` command."""

import sys

from mbc_rules.cli import main

sys.exit(main())
