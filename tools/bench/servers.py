"""Start the servers under test as a user would, pinned to one CPU, and watch their memory."""

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tools.processes import (
    REPO_ROOT,
    UNREACHED_RATE_LIMITS,
    free_port,
    stop,
    wait_until_answering,
)

# Rate limits never met, yet checked on every request as for real clients (loopback included),
# so their cost is part of the measurement.
BENCH_SETTINGS = {**UNREACHED_RATE_LIMITS, "REFERLY_TRACKING_LIMIT_LOOPBACK": "true"}


@dataclass(frozen=True)
class Cpus:
    """The server's CPU and the load generator's; None when there are not two to pin to."""

    server: int | None
    load: int | None

    @classmethod
    def pick(cls) -> "Cpus":
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            return cls(None, None)
        return cls(allowed[0], allowed[1])

    @property
    def pinned(self) -> bool:
        return self.server is not None


@dataclass
class Server:
    """A server process; the context manager stops it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def __enter__(self) -> "Server":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        stop(self.process)

    def wait_ready(self, probe: str, timeout: float = 60) -> None:
        """Until `probe` answers at all (any status: a 401 means the server is up)."""
        wait_until_answering(self.process, self.url + probe, self.name, self.log_path, timeout)


def _spawn(
    name: str, command: list[str], env: dict[str, str], cpu: int | None, log_path: Path, port: int
) -> Server:
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]  # taskset execs: same pid
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Server(name, f"http://127.0.0.1:{port}", process, log_path)


def start_referly(database_url: str, log_level: str, cpu: int | None, workdir: Path) -> Server:
    """`referly serve`, exactly as documented, on a free loopback port."""
    port = free_port()
    env = {**os.environ, **BENCH_SETTINGS}
    env.update(REFERLY_DATABASE_URL=database_url, REFERLY_LOG_LEVEL=log_level)
    command = [sys.executable, "-m", "referly", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    server = _spawn("referly serve", command, env, cpu, workdir / f"referly-{port}.log", port)
    server.wait_ready("/v1/test")
    return server


def start_ceiling(log_level: str, cpu: int | None, workdir: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "tools.bench.ceiling", "--port", str(port)]
    command += ["--log-level", log_level]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    server = _spawn("ceiling", command, env, cpu, workdir / f"ceiling-{port}.log", port)
    server.wait_ready("/")
    return server


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_nanoseconds(pid: int) -> tuple[int, int]:
    """(time on a CPU, time waiting for one) summed over the process's threads, from
    /proc/<pid>/task/*/schedstat; (0, 0) once it is gone."""
    on_cpu = waiting = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for task in tasks:
        try:
            fields = Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()
        except OSError:
            continue  # the thread ended meanwhile
        on_cpu, waiting = on_cpu + int(fields[0]), waiting + int(fields[1])
    return on_cpu, waiting


@dataclass
class ProcessWatch:
    """While the `with` block runs: a process's peak RSS (sampled every few milliseconds), its
    share of a CPU, and how long it waited for a CPU that something else was using — the
    measure of how noisy the machine was."""

    pid: int
    interval: float = 0.05
    peak_rss: int = 0
    cpu_share: float = 0.0  # 1.0 = one CPU busy for the whole block
    wait_share: float = 0.0  # 1.0 = ready to run, yet waiting, for the whole block
    _started: tuple[float, int, int] = (0.0, 0, 0)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "ProcessWatch":
        self.peak_rss = rss_bytes(self.pid)
        self._started = (time.monotonic(), *cpu_nanoseconds(self.pid))
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        started, on_cpu, waiting = self._started
        elapsed_ns = max(1.0, (time.monotonic() - started) * 1e9)
        now_on_cpu, now_waiting = cpu_nanoseconds(self.pid)
        self.cpu_share = (now_on_cpu - on_cpu) / elapsed_ns
        self.wait_share = (now_waiting - waiting) / elapsed_ns

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_rss = max(self.peak_rss, rss_bytes(self.pid))
