"""icecycle: a terminal timer for cold therapy after a back spasm."""

__version__ = "0.2.0"
