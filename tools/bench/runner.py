"""One benchmark run: for each database, a fresh database, the ceiling, then every path against
`referly serve`; optionally the same again after pre-loading a grown program."""

import math
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.bench.databases import DEFAULT_POSTGRES_URL, bench_database, count_rows, prepare
from tools.bench.growth import Growth, preload
from tools.bench.paths import CEILING, DEFAULT_PATHS, PATHS, BenchPath, Fixture
from tools.bench.servers import Cpus, ProcessWatch, Server, start_ceiling, start_referly
from tools.bench.wrk import TIMEOUT_SECONDS, LoadResult, find_wrk, lua_script, run_load

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BenchOptions:
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    paths: tuple[str, ...] = DEFAULT_PATHS
    seconds: float = 10.0
    warmup_seconds: float = 2.0
    grace_seconds: float = 10.0  # at most, for answers in flight; normally far less
    connections: int = 64
    growth: Growth | None = None
    log_level: str = "warning"
    postgres_url: str = DEFAULT_POSTGRES_URL

    @classmethod
    def smoke(cls) -> "BenchOptions":
        """A few seconds in all: every path answers, and rows match answers."""
        return cls(seconds=0.5, warmup_seconds=0.0, grace_seconds=5.0, connections=16)


@dataclass
class PathResult:
    path: BenchPath
    load: LoadResult
    rows_added: int | None  # None: the path writes no rows
    peak_rss: int
    ceiling_per_second: float
    cpu_share: float = 0.0  # the server's, during the window
    wait_share: float = 0.0  # the server's time waiting for its CPU: other processes' noise

    @property
    def ratio(self) -> float:
        return self.load.per_second / self.ceiling_per_second if self.ceiling_per_second else 0.0

    @property
    def missing(self) -> bool:
        return self.load.ok == 0 and self.load.statuses.get(404, 0) > 0

    def problems(self) -> list[str]:
        """Correctness, not speed: what must hold on any machine."""
        load, found = self.load, []
        if self.missing:
            return [f"{self.path.label}: missing (every answer was 404)"]
        if load.ok == 0:
            found.append(f"{self.path.label}: no 2xx answer (statuses {load.statuses})")
        if load.non_2xx:
            found.append(f"{self.path.label}: {load.non_2xx:,} non-2xx answers {load.statuses}")
        if load.socket_errors:
            found.append(f"{self.path.label}: {load.socket_errors:,} socket errors")
        if load.timeouts:
            found.append(
                f"{self.path.label}: {load.timeouts:,} answers slower than {TIMEOUT_SECONDS} s"
            )
        if self.rows_added is not None and self.rows_added != load.ok:
            found.append(
                f"{self.path.label}: {self.rows_added} rows added for {load.ok} 2xx answers"
                + (f" ({load.unanswered} requests unanswered)" if load.unanswered else "")
            )
        return found


@dataclass
class PhaseResult:
    database: str
    phase: str  # "empty" or "grown"
    ceiling: PathResult
    paths: list[PathResult] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [f"{self.database}/{self.phase}: {p}" for p in self.ceiling.problems()]
        for result in self.paths:
            found += [f"{self.database}/{self.phase}: {p}" for p in result.problems()]
        return found


@dataclass
class Bench:
    options: BenchOptions
    log: Log = stderr_log
    cpus: Cpus = field(default_factory=Cpus.pick)
    wrk: str = ""

    def run(self) -> list[PhaseResult]:
        self.wrk = find_wrk()
        if not self.cpus.pinned:
            self.log("fewer than two CPUs: server and load generator run unpinned")
        results: list[PhaseResult] = []
        with tempfile.TemporaryDirectory(prefix="referly-bench-") as tmp:
            for kind in self.options.databases:
                workdir = Path(tmp) / kind
                workdir.mkdir()
                results.extend(self._database(kind, workdir))
        return results

    def _database(self, kind: str, workdir: Path) -> Iterator[PhaseResult]:
        with bench_database(kind, workdir, self.options.postgres_url) as database_url:
            self.log(f"{kind}: fresh database, bench program")
            fixture = prepare(database_url)
            yield self._phase(kind, "empty", database_url, fixture, workdir)
            if self.options.growth is not None:
                growth = self.options.growth
                self.log(
                    f"{kind}: pre-loading {growth.clicks:,} clicks, {growth.customers:,} "
                    f"customers, {growth.partners:,} partners"
                )
                preload(database_url, fixture.public_id, growth)
                yield self._phase(kind, "grown", database_url, fixture, workdir)

    def _phase(
        self, kind: str, phase: str, database_url: str, fixture: Fixture, workdir: Path
    ) -> PhaseResult:
        with start_ceiling(self.options.log_level, self.cpus.server, workdir) as ceiling_server:
            self.log(f"{kind}/{phase}: ceiling")
            ceiling = self._measure(CEILING, ceiling_server, fixture, database_url, 0.0, workdir)
        result = PhaseResult(kind, phase, ceiling)
        ceiling_rate = ceiling.load.per_second
        with start_referly(database_url, self.options.log_level, self.cpus.server, workdir) as app:
            for name in self.options.paths:
                self.log(f"{kind}/{phase}: {PATHS[name].label}")
                measured = self._measure(
                    PATHS[name], app, fixture, database_url, ceiling_rate, workdir
                )
                result.paths.append(measured)
        return result

    def _measure(
        self,
        path: BenchPath,
        server: Server,
        fixture: Fixture,
        database_url: str,
        ceiling_rate: float,
        workdir: Path,
    ) -> PathResult:
        url = server.url + fixture.fill(path.path)
        if self.options.warmup_seconds > 0:
            self._load(url, lua_script(path, fixture), self.options.warmup_seconds, workdir)
        before = count_rows(database_url, path.table) if path.table else 0
        with ProcessWatch(server.process.pid) as watch:
            load = self._load(url, lua_script(path, fixture), self.options.seconds, workdir)
        rows = count_rows(database_url, path.table) - before if path.table else None
        rate = ceiling_rate or load.per_second
        return PathResult(path, load, rows, watch.peak_rss, rate, watch.cpu_share, watch.wait_share)

    def _load(self, url: str, script: str, seconds: float, workdir: Path) -> LoadResult:
        return run_load(
            self.wrk,
            url,
            script,
            seconds=seconds,
            duration=math.ceil(seconds + self.options.grace_seconds),
            connections=self.options.connections,
            cpu=self.cpus.load,
            workdir=workdir,
        )
