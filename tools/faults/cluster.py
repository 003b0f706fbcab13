"""A private, throwaway PostgreSQL cluster: `initdb` into a temporary directory, served on a
free loopback port, so a test can stop PostgreSQL (even with an immediate shutdown, which is a
crash as far as the data is concerned) without touching any database somebody else uses.

PostgreSQL refuses to run as root; run as root, every command runs as the `postgres` OS user
and the directory is handed to it."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tools.processes import free_port, log_tail

BIN_DIR_ENV = "REFERLY_POSTGRES_BIN_DIR"
SERVICE_USER = "postgres"
COMMAND_TIMEOUT = 120


class ClusterUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed here."""


def find_bin_dir() -> Path:
    """`REFERLY_POSTGRES_BIN_DIR`, else the newest `/usr/lib/postgresql/*/bin` with `initdb`."""
    configured = os.environ.get(BIN_DIR_ENV)
    candidates = [configured] if configured else glob.glob("/usr/lib/postgresql/*/bin")
    found = [Path(c) for c in candidates if (Path(c) / "initdb").is_file()]
    if not found:
        raise ClusterUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    return max(found, key=lambda path: _version(path.parent.name))


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


class PrivateCluster:
    """`create()` it, `start()`, `stop_immediately()`, `start()` again, and `remove()` it
    (the context manager removes it). `url` is a plain `postgresql://` URL."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="referly-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{SERVICE_USER}@127.0.0.1:{self.port}/postgres"

    def create(self) -> "PrivateCluster":
        self._hand_over(self.root)
        self._run("initdb", "-D", str(self.data), "-U", SERVICE_USER, "-A", "trust", "--no-sync")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log), "-o", options)

    def stop_immediately(self) -> None:
        """An immediate shutdown: no checkpoint, clients cut off; the next start recovers from
        the write-ahead log exactly as after a crash."""
        self._pg_ctl("stop", "-m", "immediate", "-w")

    def is_running(self) -> bool:
        done = subprocess.run(
            self._as_service(self.bin_dir / "pg_ctl", "status", "-D", str(self.data)),
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        return done.returncode == 0

    def remove(self) -> None:
        if self.data.exists() and self.is_running():
            self.stop_immediately()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log, lines)

    def __enter__(self) -> "PrivateCluster":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.remove()

    def _pg_ctl(self, action: str, *options: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), *options)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            self._as_service(self.bin_dir / program, *args),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} {args[0]} failed: {done.stderr.strip()}\n{self.log_tail()}"
            )

    def _as_service(self, executable: Path, *args: str) -> list[str]:
        if os.geteuid() != 0:
            return [str(executable), *args]
        return ["runuser", "-u", SERVICE_USER, "--", str(executable), *args]

    def _hand_over(self, path: Path) -> None:
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVICE_USER)
            os.chown(path, account.pw_uid, account.pw_gid)
