"""The Partnero-compatible REST API under /v1/."""
