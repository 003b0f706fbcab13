"""A real `referly serve` process on a loopback port, for end-to-end tests."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def cli(self, *args: str) -> dict:
        """Run `referly <args> --json` against this server's database; one JSON object back."""
        env = {**os.environ, "REFERLY_DATABASE_URL": self.database_url}
        done = subprocess.run(
            [sys.executable, "-m", "referly", *args, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_live_server(database_url: str, log_dir: Path) -> LiveServer:
    port = free_port()
    log_path = log_dir / f"serve-{port}.log"
    env = {**os.environ, "REFERLY_DATABASE_URL": database_url}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "referly", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", database_url, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"referly serve exited: {log_path.read_text()}")
        try:
            urllib.request.urlopen(f"{server.url}/v1/test", timeout=1)
        except urllib.error.HTTPError:
            return server  # 401 means it is up
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"referly serve did not start: {log_path.read_text()}")
