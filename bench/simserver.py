"""The vendor simulator filled with bench connectors, in its own process (so it does not
share a GIL with what is measured) or in a thread (storage, where nothing is timed).

Mixpanel import connectors only: project `p<a>` holds connectors `c<a>-<i>`, all reached
with one service account. Modes:
- `progress`: finished runs plus one long active run whose progress moves 1 % per simulated
  minute, on a frozen clock the bench moves (`POST /_sim/advance`): changed vs unchanged.
- `cycle`: a run every hour (50 min long), staggered, on the real clock (sustained load).
- `day`: a typical connector, one 10-minute run per hour, on a clock the bench sets.

    python -m bench.simserver --mode progress --accounts 200 --per-account 10 --start 2026-...
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from vendors.mixpanel.simulator import CyclingRuns, MixpanelWorld, ScriptedRun, SimConnector, SimProject
from vendors.simulator.core import Clock, SimServer, Simulator

USERNAME, SECRET = "bench-svc", "bench-secret"


def project_id(a: int) -> str:
    return str(100_000 + a)  # an integer, as Mixpanel's specs type project ids (the simulator checks)


def connector_id(a: int, i: int) -> str:
    return f"c{a}-{i}"


def build(mode: str, accounts: int, per_account: int, start: datetime, history: int, frozen: bool) -> Simulator:
    clock = Clock(start, frozen=frozen)
    sim = Simulator(clock)
    projects = []
    for a in range(accounts):
        project = SimProject(project_id(a), username=USERNAME, secret=SECRET)
        for i in range(per_account):
            project.add(_connector(mode, connector_id(a, i), start, history, a * per_account + i))
        projects.append(project)
    MixpanelWorld(projects).install(sim)
    return sim


def _connector(mode: str, cid: str, start: datetime, history: int, n: int) -> SimConnector:
    if mode == "progress":
        finished = [
            ScriptedRun(queued_at=start - timedelta(hours=2 * (k + 1)), run_seconds=600, events=50_000 + k)
            for k in range(history - 1)
        ]
        # 1 % per 60 s: every simulated minute changes progress and counts.
        active = ScriptedRun(queued_at=start - timedelta(seconds=30), queue_seconds=5, run_seconds=6000, events=10**6)
        return SimConnector(cid, label=cid, runs=[*finished, active])
    if mode == "cycle":
        offset = timedelta(seconds=(n * 7919) % 3600)  # staggered, deterministic
        cycle = CyclingRuns(
            start - offset, period=3600, queue_seconds=30, run_seconds=3000, events=2_000_000, keep=history
        )
        return SimConnector(cid, label=cid, cycle=cycle)
    if mode == "day":
        offset = timedelta(seconds=(n * 1373) % 3600)
        cycle = CyclingRuns(
            start - offset, period=3600, queue_seconds=30, run_seconds=600, events=120_000, keep=history
        )
        return SimConnector(cid, label=cid, cycle=cycle)
    raise ValueError(f"unknown mode {mode!r}")


def start_thread(mode: str, accounts: int, per_account: int, start: datetime, history: int = 3) -> SimServer:
    server = SimServer(build(mode, accounts, per_account, start, history, frozen=True))
    server.httpd.socket.listen(1024)
    return server.start()


class SimProcess:
    """The simulator in a subprocess; `url` once it listens."""

    def __init__(
        self,
        mode: str,
        accounts: int,
        per_account: int,
        start: datetime,
        history: int,
        frozen: bool,
        latency_ms: float = 0,
    ) -> None:
        args = [
            sys.executable,
            "-m",
            "bench.simserver",
            f"--mode={mode}",
            f"--accounts={accounts}",
            f"--per-account={per_account}",
            f"--start={start.isoformat()}",
            f"--history={history}",
            f"--latency-ms={latency_ms:g}",
        ]
        if frozen:
            args.append("--frozen")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        line = self.proc.stdout.readline().strip() if self.proc.stdout else ""
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.url = line

    def advance(self, seconds: float) -> None:
        import requests

        requests.post(f"{self.url}/_sim/advance", json={"seconds": seconds}, timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", default="progress", choices=("progress", "cycle", "day"))
    parser.add_argument("--accounts", type=int, default=1)
    parser.add_argument("--per-account", type=int, default=10)
    parser.add_argument("--start", default="")
    parser.add_argument("--history", type=int, default=4)
    parser.add_argument("--frozen", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0, help="every answer takes this long, as a real vendor's")
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    sim = build(args.mode, args.accounts, args.per_account, start, args.history, args.frozen)
    sim.latency = args.latency_ms / 1000
    server = SimServer(sim, "127.0.0.1", args.port)
    server.httpd.socket.listen(1024)  # a deeper backlog than http.server's 5: many clients connect at once
    print(server.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
