"""Test and benchmark rigs (virtual-time harness, ARI rig). Not part of the product: no module outside
this package imports it (``tests/test_layout.py`` checks)."""
