"""`python -m tools.bench [--smoke] [--growth] ...` (`scripts/bench`): the benchmark."""

import typer

from tools.bench.cli import bench

typer.run(bench)
