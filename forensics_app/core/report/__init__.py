"""Forensic PDF reports and court exports (DESIGN.md §5–6, issue #7)."""
