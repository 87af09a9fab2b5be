"""`make bench` / `python -m bench.run [--quick] [--only poll,storage,sustain,pages]`.

Recreates the bench database (DATABASE_URL, default pipewatch_bench) and empties Redis
db 9, then measures, in order: poll-path throughput, storage, sustained scale with the
real Celery worker and beat, and pages. Prints a table; writes bench/results/latest.json."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from .config import RESULTS, Sizes, configure

PARTS = ("poll", "storage", "sustain", "pages", "scale")
# `make bench` runs these; `make bench-scale` the scale part (minutes to build 1,000,000 pipelines).
DEFAULT_PARTS = PARTS[:4]


def log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds each (smoke run)")
    parser.add_argument("--only", default=",".join(DEFAULT_PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")

    configure()
    sizes = Sizes.from_env(args.quick)
    from . import db

    began = time.perf_counter()
    log(f"bench database {db.database_name()}: recreating and migrating")
    db.recreate()
    db.flush_redis()
    import django

    django.setup()
    from django.conf import settings

    from . import pages, poll_path, scale, sustain
    from .report import Report

    report = Report()
    report.details["settings"] = {
        "POLL_TICK_SECONDS": settings.POLL_TICK_SECONDS,
        "POLL_ACTIVE_SECONDS": settings.POLL_ACTIVE_SECONDS,
        "POLL_IDLE_SECONDS": settings.POLL_IDLE_SECONDS,
        "VENDOR_HTTP_RETRIES": settings.VENDOR_HTTP_RETRIES,
    }
    steps = {
        "poll": ("1. poll path throughput", poll_path.throughput),
        "storage": ("4. storage", poll_path.storage),
        "sustain": ("2. sustained scale (celery worker + beat)", sustain.sustained),
        "pages": ("3. pages", pages.pages),
        "scale": ("5. central paths at scale", lambda s, r, lg: scale.scale(s, r, lg, args.quick)),
    }
    failed = []
    for part in PARTS:
        if part not in parts:
            continue
        title, step = steps[part]
        log(f"\n{title}")
        t = time.perf_counter()
        db.empty_jobs()
        try:
            step(sizes, report, log)
        except Exception as exc:  # one broken part must not hide the others' numbers
            traceback.print_exc()
            failed.append(part)
            report.details.setdefault("errors", {})[part] = f"{type(exc).__name__}: {exc}"
        log(f"  ({time.perf_counter() - t:.0f} s)")
    seconds = time.perf_counter() - began
    report.write(Path(args.output), sizes.as_dict(), args.quick, seconds)
    log("\n" + report.table())
    log(f"\n{'quick ' if args.quick else ''}run in {seconds:.0f} s; medians in {args.output}")
    if failed:
        log(f"FAILED parts: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
