"""The mutation score per module from mutmut's results in ./mutants (`make mutation`).

Score = killed / (mutants mutmut made - skipped - equivalent): a mutant no test reaches counts as
survived, so an untested module scores 0, not "n/a". Exit 1 when a module is under --min percent.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut.stats.status_by_exit_code): what the tests did to a mutant.
KILLED = {1, 3, 24, -24, 36, 37, 152, 255}  # a test failed, pytest errored, or it timed out
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}

# Mutants no test can kill because the program means the same (judged by hand, one line why);
# left out of the score like skipped ones. Names are mutmut's, stable while the function is.
EQUIVALENT = {
    "vendors.fullstory.normalize.x_normalize_job__mutmut_46": 'status or "XXXX": unknown, as "" is',
    "vendors.micro.normalize.x_normalize_job__mutmut_42": 'status or "XXXX": unknown, as "" is',
    "vendors.mixpanel.nessie_normalize.x_normalize_task__mutmut_25": "an unknown state makes no error to give a kind",
    "vendors.mixpanel.nessie_normalize.x__stamp__mutmut_6": 'float("-INF") is float("-inf")',
    "vendors.mixpanel.nessie_normalize.x_normalize_task__mutmut_10": "a missing state is None, then the group",
    "vendors.mixpanel.nessie_normalize.x_normalize_task__mutmut_12": "a missing state is None, then the group",
    "vendors.posthog.normalize.x__status__mutmut_16": 'status or "XXXX": unknown, as "" is',
    "vendors.posthog.normalize.x__status__mutmut_17": "the error kind of an unknown state is never read",
    "vendors.posthog.normalize.x_normalize_interval__mutmut_90": 'default None: "or" goes on to the same words as ""',
    "vendors.posthog.normalize.x_normalize_interval__mutmut_92": 'no default (None): "or" goes on as with ""',
    "vendors.posthog.normalize.x_export_info__mutmut_35": 'an unknown status is not FAILED, ("XXXX",) or ("",)',
    "vendors.posthog.facts.x_backfill_fact__mutmut_78": 'an unknown status is not FAILED, ("XXXX",) or ("",)',
    "jobs.roles.x__groups__mutmut_4": 'getattr default None: "not None" is "not False"',
    "jobs.roles.x_is_admin__mutmut_5": "getattr default None: bool(None) is bool(False)",
    "jobs.roles.x_has_role__mutmut_5": "getattr default None: bool(None) is bool(False)",
    "dashboard.auth.x__unauthorized__mutmut_17": "HttpResponse header names are case-insensitive",
    "dashboard.auth.x__unauthorized__mutmut_18": "HttpResponse header names are case-insensitive",
    "dashboard.auth.x__authenticate__mutmut_4": "CsrfViewMiddleware.process_view never reads the view's args",
    "dashboard.auth.x__authenticate__mutmut_5": "CsrfViewMiddleware.process_view never reads the view's kwargs",
    "dashboard.auth.x__authenticate__mutmut_11": "process_view never calls the middleware's get_response",
    "dashboard.auth.x__authenticate__mutmut_34": "request.headers is case-insensitive",
    "dashboard.auth.x__authenticate__mutmut_35": "request.headers is case-insensitive",
    "dashboard.auth.x__authenticate__mutmut_36": 'a default "XXXX" has no space: no scheme "bearer", as ""',
    "dashboard.auth.x__authenticate__mutmut_45": "token_sent None is falsy, as False",
}


def tally(mutants_dir: Path) -> dict[str, Counter]:
    """Module path -> counts of killed, survived, no tests, skipped, other (unchecked, suspicious)."""
    modules: dict[str, Counter] = {}
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        counts = Counter()
        for name, code in codes.items():
            if name in EQUIVALENT:
                counts["skipped"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
            elif code in NO_TESTS:
                counts["no tests"] += 1
            elif code in SKIPPED:
                counts["skipped"] += 1
            else:
                counts["other"] += 1
        modules[str(meta.relative_to(mutants_dir))[: -len(".meta")]] = counts
    return modules


def score(counts: Counter) -> float:
    judged = sum(counts.values()) - counts["skipped"]
    return 100.0 * counts["killed"] / judged if judged else 100.0


def survivors(mutants_dir: Path, pattern: str = "") -> list[str]:
    names = []
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        names += [
            name
            for name, code in codes.items()
            if code in SURVIVED | NO_TESTS and pattern in name and name not in EQUIVALENT
        ]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--min", type=float, default=0.0, help="fail when a module scores below this percent")
    parser.add_argument("--survivors", nargs="?", const="", help="list surviving mutants (optionally matching)")
    args = parser.parse_args(argv)
    if args.survivors is not None:
        print("\n".join(survivors(args.mutants, args.survivors)))
        return 0
    modules = tally(args.mutants)
    if not modules:
        print(f"no mutmut results under {args.mutants}/ (run `make mutation`)", file=sys.stderr)
        return 1
    print(f"{'module':45} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} {'score':>7}")
    low = []
    for module, counts in modules.items():
        value = score(counts)
        total = sum(counts.values())
        print(f"{module:45} {total:7} {counts['killed']:6} {counts['survived']:8} {counts['no tests']:8} {value:6.1f}%")
        if value < args.min:
            low.append(module)
    if counts := sum(modules.values(), Counter()):
        print(
            f"{'all':45} {sum(counts.values()):7} {counts['killed']:6} {counts['survived']:8} "
            f"{counts['no tests']:8} {score(counts):6.1f}%"
        )
    if low:
        print(f"under {args.min:g}%: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
