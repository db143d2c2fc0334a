"""Entry point of the frozen application (PyInstaller runs this file as __main__)."""

import sys

from forensics_app.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
