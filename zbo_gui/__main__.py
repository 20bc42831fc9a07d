"""``python -m zbo_gui``: the desktop application."""

import sys

from zbo_gui.app import main

sys.exit(main())
