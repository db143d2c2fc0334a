"""PySide6 desktop application: windows, widgets, dialogs and workers, thin over core."""
