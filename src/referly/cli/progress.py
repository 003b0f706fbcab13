"""Progress of long work (migrations, imports, exports, loading data): a bar on a terminal,
plain lines when the output is not one (a log, a pipe), so a slow step never looks stuck.
Written to standard error: standard output stays for the result (and `--json`)."""

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TimeRemainingColumn,
)

PLAIN_EVERY_SECONDS = 5.0


class Steps:
    """Counts work done of a total; `start(total)` first, then `advance(n)` or `done(name)`."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.total = 0
        self.count = 0
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._said = 0.0

    def start(self, total: int) -> None:
        self.total, self.count = total, 0
        if total == 0:
            return
        if sys.stderr.isatty():
            self._bar = Progress(
                "{task.description}", BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                TimeRemainingColumn(), console=Console(stderr=True), transient=False,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=total)
        else:
            self._say(force=True)

    def advance(self, amount: int = 1) -> None:
        self.count += amount
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.count)
        else:
            self._say(force=self.count >= self.total)

    def done(self, name: str) -> None:
        self.advance()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "Steps":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _say(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._said >= PLAIN_EVERY_SECONDS:
            self._said = now
            sys.stderr.write(f"{self.what}: {self.count} of {self.total}\n")
