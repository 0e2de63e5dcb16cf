"""``python -m sparse_mocap_addon ...``: the headless CLI (see cli.py)."""

import sys

from .cli import main

sys.exit(main())
