"""The package version, kept apart from ``__init__`` so inner modules can read it without importing the face."""

__version__ = "0.1.0"
