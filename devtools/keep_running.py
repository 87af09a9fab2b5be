"""Keeps one process of `make run` alive: `python -m devtools.keep_running NAME -- COMMAND...`.

honcho stops every process as soon as one exits, so a worker that crashed once took the web
server, beat and the simulator with it. Under this keeper a crash is reported with its exit
code or signal and the command restarted after a short, growing pause; a process that keeps
crashing (RESTART_LIMIT times within RESTART_WINDOW_SECONDS) is given up on with a message
that names it and why, and only then does honcho stop the rest. SIGTERM or SIGINT (honcho's
shutdown, Ctrl-C) is passed to the command and ends the keeper without a restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from types import FrameType

RESTART_LIMIT = int(os.environ.get("RESTART_LIMIT", "5"))
RESTART_WINDOW_SECONDS = float(os.environ.get("RESTART_WINDOW_SECONDS", "600"))
_stopping = False
_child: subprocess.Popen[bytes] | None = None


def describe(returncode: int) -> str:
    """`exit code 1` or `signal SIGKILL`, as a person reads it."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def _forward(signum: int, _frame: FrameType | None) -> None:
    global _stopping
    _stopping = True
    if _child is not None and _child.poll() is None:
        _child.send_signal(signum)


def say(name: str, message: str) -> None:
    print(f"[keep_running] {name}: {message}", file=sys.stderr, flush=True)


def run(name: str, command: list[str]) -> int:
    global _child
    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    crashes: deque[float] = deque()
    while True:
        started = time.monotonic()
        _child = subprocess.Popen(command)
        returncode = _child.wait()
        if _stopping:
            return 0 if returncode in (0, -signal.SIGTERM, -signal.SIGINT) else returncode
        now = time.monotonic()
        crashes.append(now)
        while crashes and now - crashes[0] > RESTART_WINDOW_SECONDS:
            crashes.popleft()
        if len(crashes) >= RESTART_LIMIT:
            say(
                name,
                f"died with {describe(returncode)}, {len(crashes)} times within "
                f"{RESTART_WINDOW_SECONDS:.0f} s; giving up, so the other processes stop too "
                "(its own log lines above say why)",
            )
            return returncode or 1
        pause = min(30.0, 2.0 ** (len(crashes) - 1))
        say(
            name,
            f"died with {describe(returncode)} after {now - started:.0f} s; restarting in {pause:.0f} s "
            f"(restart {len(crashes)} of at most {RESTART_LIMIT - 1} within {RESTART_WINDOW_SECONDS:.0f} s)",
        )
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and not _stopping:
            time.sleep(0.2)
        if _stopping:
            return 0


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m devtools.keep_running NAME -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run(argv[0], argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
