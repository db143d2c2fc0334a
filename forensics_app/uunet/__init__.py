"""The ML side of UU-Net: networks, losses, channel, datasets, trainers, producer.

Nothing under this package may import PySide6 (tests/test_architecture.py enforces it).
"""
