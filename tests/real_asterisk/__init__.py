"""Opt-in suite against a real Asterisk (see conftest.py)."""
