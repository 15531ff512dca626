"""keyplane: identity and access for automation on a data platform."""

__version__ = "0.1.0"
