"""Package version (one place)."""

__version__ = "0.4.0"
