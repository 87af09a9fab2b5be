"""Child processes and their memory: psutil when installed, else /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (0 once gone)."""
    try:
        import psutil
    except ImportError:
        return sum(_vmrss(p) for p in (pid, *_descendants(pid)))
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _vmrss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def start(args: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (Celery's warm shutdown), then SIGKILL to the process group we started."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
