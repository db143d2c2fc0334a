"""``python -m forensics_app`` starts the desktop application."""

import sys

from forensics_app.gui.app import main

sys.exit(main())
