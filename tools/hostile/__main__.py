"""`python -m tools.hostile [--source DIR] [--database sqlite|postgresql]` (`scripts/hostile-load`).

Three runs against a fresh `referly serve` (the checkout's, or the one in `--source DIR`, to
compare with an older one):

1. poison: 2,000 clicks sent 64 at a time, 5 % of them carrying a lone surrogate (text no
   database driver can store), and 400 `POST /v1/customers` beside 4 connections that send
   only poisoned bodies. Counted: the legitimate requests that failed.
2. header flood: 20 connections each sending up to 8 MB of header lines. Measured: the
   server's resident memory before, at the peak, and after they closed.
3. silent connections: the server limited to 1,024 open files; 1,100 connections that send
   nothing. Checked: whether a new client is answered while they are open, and 12 s later.
"""

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from tools.processes import UNREACHED_RATE_LIMITS, free_port, stop, wait_until_answering

POISON = b'{"key": "%s", "url": "https://shop.example/\xed\xa0\x80"}'


def start(
    source: Path | None, database_url: str, workdir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, **UNREACHED_RATE_LIMITS, "REFERLY_DATABASE_URL": database_url}
    env["REFERLY_LOG_LEVEL"] = "warning"
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    log = (workdir / f"serve-{port}.log").open("wb")

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    process = subprocess.Popen(
        [sys.executable, "-m", "referly", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit_files,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(process, f"{url}/v1/test", "referly serve", workdir / "x", 30)
    return process, url


def cli(database_url: str, source: Path | None, *args: str) -> dict[str, object]:
    env = {**os.environ, "REFERLY_DATABASE_URL": database_url}
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    done = subprocess.run(
        [sys.executable, "-m", "referly", *args, "--json"], env=env, capture_output=True, check=True
    )
    return dict(json.loads(done.stdout))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


async def poison(url: str, public_id: str, key: str, token: str) -> dict[str, object]:
    async with httpx.AsyncClient(
        base_url=url, timeout=30, limits=httpx.Limits(max_connections=64)
    ) as client:

        async def click(n: int) -> tuple[bool, int]:
            poisoned = n % 20 == 0
            body = (
                POISON % key.encode()
                if poisoned
                else json.dumps({"key": key, "visitor": f"v{n}"}).encode()
            )
            answer = await client.post(f"/t/{public_id}/clicks", content=body)
            return poisoned, answer.status_code

        clicks = await asyncio.gather(*(click(n) for n in range(2000)))
        legit = [status for poisoned, status in clicks if not poisoned]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        stop_at = time.monotonic() + 60

        async def poisoner() -> None:
            body = b'{"key": "p\xed\xa0\x80", "partner": {"key": "%s"}}' % key.encode()
            while time.monotonic() < stop_at:
                await client.post("/v1/customers", content=body, headers=headers)

        async def customer(n: int) -> int:
            body = {"key": f"c{n}-{uuid.uuid4().hex[:6]}", "partner": {"key": key}}
            return (await client.post("/v1/customers", json=body, headers=headers)).status_code

        poisoners = [asyncio.create_task(poisoner()) for _ in range(4)]
        started = time.monotonic()
        customers = await asyncio.gather(*(customer(n) for n in range(400)))
        elapsed = time.monotonic() - started
        stop_at = 0
        await asyncio.gather(*poisoners, return_exceptions=True)
    return {
        "legit clicks failed": f"{sum(s != 202 for s in legit)} of {len(legit)}",
        "legit customers failed": f"{sum(s != 201 for s in customers)} of {len(customers)}",
        "customers/s beside poison": round(len(customers) / elapsed),
    }


async def header_flood(url: str, pid: int) -> dict[str, object]:
    host, port = url.removeprefix("http://").split(":")
    before = rss_mb(pid)
    writers = []
    for _ in range(20):
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /v1/test HTTP/1.1\r\nHost: x\r\n")
        writers.append(writer)
    line = b"X-Flood: " + b"f" * 1000 + b"\r\n"
    peak = before
    for _round in range(8000):  # 8 MB per connection at most
        for writer in writers:
            if not writer.is_closing():
                writer.write(line)
        alive = [w for w in writers if not w.is_closing()]
        with contextlib.suppress(ConnectionError, TimeoutError, OSError):
            await asyncio.wait_for(asyncio.gather(*(w.drain() for w in alive)), 2)
        if _round % 200 == 0:
            peak = max(peak, rss_mb(pid))
            if all(w.is_closing() for w in writers):
                break
    for writer in writers:
        writer.close()
    await asyncio.sleep(2)
    return {
        "rss before MB": round(before),
        "rss peak MB": round(peak),
        "rss after MB": round(rss_mb(pid)),
    }


async def answered(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"{url}/v1/test")).status_code == 401
    except httpx.HTTPError:
        return False


async def silent(url: str) -> dict[str, object]:
    host, port = url.removeprefix("http://").split(":")
    held = []
    for _ in range(1100):
        try:
            held.append(await asyncio.open_connection(host, int(port)))
        except OSError:
            break
    await asyncio.sleep(1)
    during = await answered(url)
    await asyncio.sleep(12)
    later = await answered(url)
    for _reader, writer in held:
        writer.close()
    return {"new client answered among 1,100 silent": during, "12 s later": later}


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/hostile-load", description=__doc__)
    parser.add_argument("--source", type=Path, help="a checkout whose src/ to serve")
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="referly-hostile-"))
    database_url = (
        f"sqlite:///{workdir}/hostile.db"
        if args.database == "sqlite"
        else os.environ.get(
            "REFERLY_HOSTILE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        )
    )
    process, url = start(args.source, database_url, workdir)
    try:
        program = cli(database_url, args.source, "programs", "create", "--name", "Hostile")
        public_id = str(program["public_id"])
        token = str(
            cli(database_url, args.source, "tokens", "create", "--program", public_id)["token"]
        )
        key = f"k{uuid.uuid4().hex[:8]}"
        cli(database_url, args.source, "partners", "create", "--program", public_id,
            "--email", f"{key}@example.com", "--key", key)  # fmt: skip
        results = {
            "poison": asyncio.run(poison(url, public_id, key, token)),
            "header flood": asyncio.run(header_flood(url, process.pid)),
            "silent connections": asyncio.run(silent(url)),
        }
    finally:
        stop(process)
    for run, figures in results.items():
        print(f"{run}: " + ", ".join(f"{name} {value}" for name, value in figures.items()))


if __name__ == "__main__":
    main()
