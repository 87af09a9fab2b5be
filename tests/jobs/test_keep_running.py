"""`make run`'s process keeper: a crash is restarted and reported, a process that keeps crashing
is given up on with a message naming it, and honcho's SIGTERM ends it without a restart."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def keeper(name: str, script: str, **env: str) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "devtools.keep_running", name, "--", sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_crash_is_restarted_and_reported(tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    # Crashes on its first run; the second run waits to be stopped.
    script = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        "sys.exit(3) if n == 0 else time.sleep(60)\n"
    )
    proc = keeper("worker", script)
    deadline = time.monotonic() + 20
    while not (marker.exists() and marker.read_text() == "2") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.read_text() == "2", "the crashed command was not started again"
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "[keep_running] worker: died with exit code 3" in err
    assert "restarting in 1 s" in err
    assert marker.read_text() == "2", "SIGTERM must not restart the command"


def test_a_process_that_keeps_crashing_is_given_up_with_its_name_and_reason() -> None:
    proc = keeper("beat", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", RESTART_LIMIT="3")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert err.count("died with signal SIGKILL") == 3
    assert "[keep_running] beat: died with signal SIGKILL, 3 times within 600 s; giving up" in err
