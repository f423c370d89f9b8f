"""Qarion PyPI: a self-hosted private Python package index."""

__version__ = "0.1.0"
