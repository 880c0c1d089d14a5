"""Package version (one place)."""

__version__ = "0.3.0"
