"""`referly serve` as a subprocess that can be killed without warning and started again on the
same port and database, as a process supervisor would."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from tools.processes import (
    UNREACHED,
    UNREACHED_RATE_LIMITS,
    free_port,
    log_tail,
    stop,
    wait_until_answering,
)

# Limits high enough that the load is never answered 429: refusals are allowed by the audit,
# but a run made mostly of them would prove little.
SERVER_SETTINGS = {
    **UNREACHED_RATE_LIMITS,
    "REFERLY_API_AUTH_FAILURES_PER_MINUTE": UNREACHED,
    "REFERLY_LOG_LEVEL": "warning",
}
START_TIMEOUT = 90.0


class ServerProcess:
    """One `referly serve` at a time on a fixed loopback port; `kill()` then `start()` is a
    crash and a restart. The context manager stops it."""

    def __init__(self, database_url: str, log_dir: Path) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"referly-serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> None:
        env = {**os.environ, **SERVER_SETTINGS, "REFERLY_DATABASE_URL": self.database_url}
        command = [sys.executable, "-m", "referly", "serve", "--host", "127.0.0.1"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], env=env, stdout=log, stderr=log
            )
        self.starts += 1
        self._wait_ready()

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye, as in a crash or an OOM kill."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        """Until the API answers at all: a 401 for no token means it is serving."""
        assert self.process is not None
        url = f"{self.url}/v1/customers"
        wait_until_answering(self.process, url, "referly serve", self.log_path, START_TIMEOUT)
