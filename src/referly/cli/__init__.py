"""The `referly` command."""

from referly.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
