"""Dialogs of the forensic app: workspace, login, unlock request, approval, progress."""
