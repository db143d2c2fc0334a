"""Qt-free domain: evidence, video I/O, detection, tracking, stego, custody, reports.

Nothing under this package may import PySide6 (tests/test_architecture.py enforces it).
"""
