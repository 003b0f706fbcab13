"""A real `referly serve` process on a loopback port, for end-to-end tests."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.processes import free_port, stop, wait_until_answering


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
        stop(self.process, timeout=10)


def start_live_server(database_url: str, log_dir: Path, **settings: str) -> LiveServer:
    """`settings`: more `REFERLY_*` variables, named without the prefix (`max_connections`)."""
    port = free_port()
    log_path = log_dir / f"serve-{port}.log"
    env = {**os.environ, "REFERLY_DATABASE_URL": database_url}
    env.update({f"REFERLY_{name.upper()}": value for name, value in settings.items()})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "referly", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", database_url, process, log_path)
    wait_until_answering(process, f"{server.url}/v1/test", "referly serve", log_path, timeout=30)
    return server
