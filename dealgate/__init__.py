"""Dealgate: a self-hosted sales pipeline that decides, not a list that stores."""

__version__ = "0.1.0"
