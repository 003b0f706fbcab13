"""Referly: self-hosted partner-program tracking, drop-in compatible with Partnero."""

__version__ = "0.1.0"
