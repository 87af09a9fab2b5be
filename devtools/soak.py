"""`make soak`: runs `make run`'s process set (Procfile.dev under honcho) for a given time and
checks, once a minute, that every process is up, `/healthz` answers ok and polls keep landing.

    python -m devtools.soak --seconds 7200 [--interval 60] [--out var/soak]

Writes `var/soak/honcho.log` (every process's output), `var/soak/checks.jsonl` (one line a
check) and `var/soak/report.json`, prints a summary, and exits 1 if any check failed: a process
gone or restarted, `/healthz` not ok twice in a row, a minute without a poll, or an error
logged by the broker. Run it after `make run` has set up the database (the make target does).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.procs import tree_rss

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile.dev"
WEB = "http://127.0.0.1:8000"


def procfile_names(path: Path = PROCFILE) -> list[str]:
    return [line.split(":", 1)[0].strip() for line in path.read_text().splitlines() if re.match(r"^\w+:", line)]


def keeper_pids() -> dict[str, int]:
    """PID of each process's keeper (`devtools.keep_running NAME`), read from /proc."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"devtools.keep_running" in argv:
            i = argv.index(b"devtools.keep_running")
            found[argv[i + 1].decode()] = int(entry.name)
    return found


def healthz() -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{WEB}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError) as exc:
        return 0, {"error": f"{type(exc).__name__}: {exc}"}


def poll_figures(since: datetime) -> dict[str, Any]:
    from django.db.models import Count, Max

    from jobs.models import Pipeline, PollAttempt

    attempts = PollAttempt.objects.filter(at__gte=since).values("outcome").annotate(n=Count("id"))
    return {
        "attempts": {row["outcome"]: row["n"] for row in attempts},
        "last_attempt_at": PollAttempt.objects.aggregate(m=Max("at"))["m"],
        "pipelines": Pipeline.objects.count(),
        "pipelines_polled": Pipeline.objects.filter(last_polled_at__gte=since).count(),
    }


def check(names: list[str], since: datetime, restarts_seen: int, log_text: str) -> dict[str, Any]:
    pids = keeper_pids()
    status, body = healthz()
    figures = poll_figures(since)
    restarts = log_text.count("[keep_running]")
    problems = [f"{name} is not running" for name in names if name not in pids]
    if restarts > restarts_seen:
        problems.append(f"{restarts - restarts_seen} restart(s): see [keep_running] lines in honcho.log")
    if sum(figures["attempts"].values()) == 0:
        problems.append("no poll landed since the last check")
    if "broker: set aside" in log_text:
        problems.append("the broker set aside an unreadable message")
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "healthz": status,
        "healthz_checks": body.get("checks", body),
        "rss_mb": {name: round(tree_rss(pid) / 2**20, 1) for name, pid in sorted(pids.items())},
        "polls": {**figures, "last_attempt_at": str(figures["last_attempt_at"])},
        "restarts": restarts,
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=7200)
    parser.add_argument("--interval", type=float, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "soak")
    args = parser.parse_args(argv)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    django.setup()

    args.out.mkdir(parents=True, exist_ok=True)
    log_path, checks_path = args.out / "honcho.log", args.out / "checks.jsonl"
    names = procfile_names()
    honcho = subprocess.Popen(
        [str(ROOT / ".venv/bin/honcho"), "-f", str(PROCFILE), "start"],
        cwd=ROOT,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = time.monotonic()
    checks: list[dict[str, Any]] = []
    unhealthy_streak = 0
    failed: list[str] = []
    print(f"soak: {', '.join(names)} for {args.seconds:.0f} s, a check every {args.interval:.0f} s; log {log_path}")
    try:
        time.sleep(min(args.interval, 45))  # startup: migrations are done, processes need a moment
        since = datetime.now(UTC) - timedelta(seconds=args.interval)
        with checks_path.open("w") as out:
            while True:
                if honcho.poll() is not None:
                    failed.append(f"honcho exited with {honcho.returncode}: the process set stopped")
                    break
                now = datetime.now(UTC)
                restarts_seen = checks[-1]["restarts"] if checks else 0
                result = check(names, since, restarts_seen, log_path.read_text("utf-8", "replace"))
                since = now
                unhealthy_streak = unhealthy_streak + 1 if result["healthz"] != 200 else 0
                if unhealthy_streak >= 2:
                    result["problems"].append(f"/healthz not ok twice in a row: {result['healthz_checks']}")
                checks.append(result)
                out.write(json.dumps(result) + "\n")
                out.flush()
                elapsed = time.monotonic() - started
                polls = sum(result["polls"]["attempts"].values())
                print(
                    f"soak {elapsed / 60:6.1f} min: healthz {result['healthz']}, {polls} polls, "
                    f"rss {result['rss_mb']}, problems {result['problems'] or 'none'}",
                    flush=True,
                )
                failed.extend(f"{result['at']}: {p}" for p in result["problems"])
                if elapsed >= args.seconds:
                    break
                time.sleep(args.interval)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGTERM)
            try:
                honcho.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
    report = summarize(checks, failed, time.monotonic() - started)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


def summarize(checks: list[dict[str, Any]], failed: list[str], seconds: float) -> dict[str, Any]:
    polls = [sum(c["polls"]["attempts"].values()) for c in checks]
    outcomes: dict[str, int] = {}
    for c in checks:
        for outcome, n in c["polls"]["attempts"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    first, last = (checks[0]["rss_mb"], checks[-1]["rss_mb"]) if checks else ({}, {})
    return {
        "ok": not failed,
        "minutes": round(seconds / 60, 1),
        "checks": len(checks),
        "healthz_ok": sum(1 for c in checks if c["healthz"] == 200),
        "polls_total": sum(polls),
        "polls_per_check_min_max": [min(polls, default=0), max(polls, default=0)],
        "poll_outcomes": outcomes,
        "restarts": checks[-1]["restarts"] if checks else 0,
        "rss_mb_first": first,
        "rss_mb_last": last,
        "problems": failed,
    }


if __name__ == "__main__":
    sys.exit(main())
