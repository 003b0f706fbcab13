"""`referly serve` as a subprocess that can be killed without warning and started again on the
same port and database, as a process supervisor would."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from referly.faults.cluster import free_port

# Limits high enough that the load is never answered 429: refusals are allowed by the audit,
# but a run made mostly of them would prove little.
UNREACHED = str(10**9)
SERVER_SETTINGS = {
    "REFERLY_API_RATE_LIMIT_PER_MINUTE": UNREACHED,
    "REFERLY_API_RATE_LIMIT_BURST": UNREACHED,
    "REFERLY_TRACKING_RATE_PER_MINUTE": UNREACHED,
    "REFERLY_TRACKING_RATE_BURST": UNREACHED,
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
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

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
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"referly serve exited:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/v1/customers", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"referly serve did not start:\n{self.log_tail()}")
