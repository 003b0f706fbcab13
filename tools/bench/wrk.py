"""Drive `wrk` with a generated Lua script that counts
2xx answers exactly, stops sending at the end of the window and lets the requests in flight
finish, so the number of 2xx answers can be compared with the rows the server wrote."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

from tools.bench.paths import BenchPath, Fixture

UNIQUE = "$unique"
TIMEOUT_SECONDS = 5
RESULT_MARK = "REFERLY_BENCH "
DRAINED_MARK = "REFERLY_DRAINED"


@dataclass(frozen=True)
class LoadResult:
    ok: int  # 2xx answers
    non_2xx: int
    socket_errors: int  # connect, read and write errors
    timeouts: int  # answers slower than TIMEOUT_SECONDS (wrk counts them as socket errors)
    unanswered: int  # sent in the window, no answer by the end of the grace period
    window_seconds: float  # first request sent .. last answer received
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]  # every status seen, with its count

    @property
    def per_second(self) -> float:
        """2xx answers per second: errors do not count as throughput."""
        return self.ok / self.window_seconds if self.window_seconds > 0 else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors + self.timeouts


def find_wrk() -> str:
    """The path of `wrk`; `scripts/install-system-packages.sh` installs it from Debian."""
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is missing: run `bash scripts/install-system-packages.sh`")
    return found


def lua_script(path: BenchPath, fixture: Fixture) -> str:
    headers = "\n".join(
        f"wrk.headers[{_lua(name)}] = {_lua(fixture.fill(value))}"
        for name, value in path.headers.items()
    )
    body = fixture.fill(path.body) if path.body is not None else None
    dynamic = body is not None and UNIQUE in body
    parts = body.split(UNIQUE) if body is not None and dynamic else []
    return LUA.substitute(
        method=_lua(path.method),
        headers=headers,
        body="nil" if body is None or dynamic else _lua(body),
        parts="{" + ", ".join(_lua(part) for part in parts) + "}",
        request=LUA_REQUEST if dynamic else "",
        run=_lua(uuid.uuid4().hex[:8]),
        mark=_lua(RESULT_MARK),
        drained=_lua(DRAINED_MARK),
    )


def run_load(
    wrk: str,
    url: str,
    script: str,
    *,
    seconds: float,
    duration: int,
    connections: int,
    cpu: int | None,
    workdir: Path,
) -> LoadResult:
    """Load `url` for `seconds`; then wait, at most until `duration`, for the answers in flight.

    wrk itself always runs its whole `-d`; once the script reports that every request sent
    has its answer, it stops its thread and this interrupts wrk's main thread, which then
    prints the summary at once."""
    script_path = workdir / f"load-{uuid.uuid4().hex[:8]}.lua"
    script_path.write_text(script)
    command = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", f"--timeout={TIMEOUT_SECONDS}s"]
    command += ["-s", str(script_path), url, "--", str(seconds)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(duration + 60, process.kill)
    watchdog.start()
    try:
        output = _read_until_exit(process)
    finally:
        watchdog.cancel()
    return parse_result(output)


def _read_until_exit(process: "subprocess.Popen[str]") -> str:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(DRAINED_MARK):
            _interrupt_when_alone(process.pid)
    process.wait()
    return "".join(lines)


def _interrupt_when_alone(pid: int) -> None:
    """SIGINT ends wrk's sleep only when its main thread receives it: wait until the worker
    thread has exited, so the main thread is the only one left to receive it."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            if len(os.listdir(f"/proc/{pid}/task")) == 1:
                break
        except OSError:
            return
        time.sleep(0.005)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)


def parse_result(stdout: str) -> LoadResult:
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            data = json.loads(line.removeprefix(RESULT_MARK))
            return LoadResult(
                ok=int(data["ok"]),
                non_2xx=int(data["non_2xx"]),
                socket_errors=int(data["socket_errors"]),
                timeouts=int(data["timeouts"]),
                unanswered=max(0, int(data["sent"]) - int(data["answered"])),
                window_seconds=float(data["window"]),
                p50_ms=float(data["p50_us"]) / 1000,
                p99_ms=float(data["p99_us"]) / 1000,
                statuses=_statuses(str(data["statuses"])),
            )
    raise RuntimeError(f"wrk printed no result:\n{stdout}")


def _statuses(encoded: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for item in filter(None, encoded.split(",")):
        status, count = item.split(":")
        counts[int(status)] = counts.get(int(status), 0) + int(count)
    return dict(sorted(counts.items()))


def _lua(value: str) -> str:
    """A Lua string literal (JSON's escapes are Lua's for ASCII text)."""
    return json.dumps(value, ensure_ascii=True)


LUA_REQUEST = """
function request()
  counter = counter + 1
  local unique = run .. "-" .. thread_id .. "-" .. counter
  return wrk.format(nil, nil, nil, table.concat(parts, unique))
end
"""

LUA = Template("""-- generated by scripts/bench
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } referly_timespec;
int clock_gettime(int clock_id, referly_timespec *tp);
]]
local timespec = ffi.new("referly_timespec")
local function now()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end

local threads = {}
function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

wrk.method = $method
$headers
wrk.body = $body
parts = $parts
run = $run

function init(args)
  window = tonumber(args[1])
  counter, sent, ok, non_2xx = 0, 0, 0, 0
  first_sent, last_answer, stop_at, drained = 0, 0, nil, false
  status_counts = {}
end
$request
-- Once the window is over and every request sent has its answer, say so and stop.
local function stop_when_drained(t)
  if not drained and stop_at ~= nil and t >= stop_at and ok + non_2xx >= sent then
    drained = true
    io.write($drained .. "\\n")
    io.flush()
    wrk.thread:stop()
  end
end

-- Called before every request: stops sending once the window is over, so the requests in
-- flight finish and every row the server writes has an answer wrk saw.
function delay()
  local t = now()
  if stop_at == nil then
    stop_at = t + window
    first_sent = t
  end
  if t >= stop_at then
    stop_when_drained(t)
    return 3600000
  end
  sent = sent + 1
  return 0
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non_2xx = non_2xx + 1
  end
  status_counts[status] = (status_counts[status] or 0) + 1
  last_answer = now()
  stop_when_drained(last_answer)
end

function done(summary, latency, requests)
  local total = {ok = 0, non_2xx = 0, sent = 0}
  local first, last, seen = nil, 0, {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(total) do
      total[name] = total[name] + thread:get(name)
    end
    local started = thread:get("first_sent")
    if started > 0 and (first == nil or started < first) then first = started end
    last = math.max(last, thread:get("last_answer"))
    for code, count in pairs(thread:get("status_counts")) do
      table.insert(seen, code .. ":" .. count)
    end
  end
  local e = summary.errors
  io.write(string.format(
    '%s{"ok":%d,"non_2xx":%d,"sent":%d,"answered":%d,"socket_errors":%d,"timeouts":%d,'
    .. '"window":%.6f,"p50_us":%d,"p99_us":%d,"statuses":"%s"}\\n',
    $mark, total.ok, total.non_2xx, total.sent, total.ok + total.non_2xx,
    e.connect + e.read + e.write, e.timeout,
    (first and last > first) and (last - first) or 0,
    latency:percentile(50), latency:percentile(99), table.concat(seen, ",")))
end
""")
