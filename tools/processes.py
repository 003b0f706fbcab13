"""Child server processes, for the tools that start servers of their own (`scripts/bench`,
the crash test): a free port, waiting until a server answers, stopping it, its log's end."""

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

# The checkout's root: `tools` is imported from there, also by the servers the tools start.
REPO_ROOT = Path(__file__).resolve().parents[1]

# Rate limits high enough that a load generator never meets them; they are still checked on
# every request, as for real clients.
UNREACHED = str(10**9)
UNREACHED_RATE_LIMITS = {
    "REFERLY_API_RATE_LIMIT_PER_MINUTE": UNREACHED,
    "REFERLY_API_RATE_LIMIT_BURST": UNREACHED,
    "REFERLY_TRACKING_RATE_PER_MINUTE": UNREACHED,
    "REFERLY_TRACKING_RATE_BURST": UNREACHED,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_answering(
    process: subprocess.Popen[bytes], url: str, name: str, log_path: Path, timeout: float
) -> None:
    """Until `url` answers at all (any status: a 401 means the server is up). A server that
    exits or never answers is stopped and reported with the end of its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log_tail(log_path)}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"{name} did not start:\n{log_tail(log_path)}")
