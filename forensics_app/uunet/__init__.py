"""The ML side of UU-Net: networks, losses, channel, datasets, trainers, producer.

Nothing under this package may import PySide6, and nothing outside ``evaluation`` may import
``evaluation`` (pyproject's import-linter contracts, tests/test_import_contracts.py).
"""
