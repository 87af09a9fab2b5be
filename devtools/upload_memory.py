"""Peak memory of a web worker for one large upload on the create page.

    DATABASE_URL=postgres://... python -m devtools.upload_memory [--mb 100] [--preview]

Runs gunicorn (one sync worker) from the current directory, creates an operator and a Micro
account (never called: a check of the upload, or a large upload handed to the worker, does
not reach the vendor), generates a CSV of the given size on disk and posts it as a browser
would. Prints the worker's resident memory before and its peak (VmHWM) after, the status
code and how long the request took. Works on any checkout, so before and after can be
compared with the same script.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

GUNICORN = ("--workers", "1", "--timeout", "600", "--log-level", "warning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024
    return out


def _csv_body(path: Path, megabytes: int, boundary: str, fields: dict[str, str]) -> int:
    """A multipart body with the form fields and a CSV of about `megabytes`, written to disk."""
    with path.open("wb") as f:
        for name, value in fields.items():
            f.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        f.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="rows"; filename="people.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
        )
        f.write(b"email,first_name,last_name,company,plan,note\n")
        target, i = megabytes * 1024 * 1024, 0
        line = "user{0}@example.com,First{0},Last{0},Company {1},pro,a note about person {0} that pads the row\n"
        block: list[str] = []
        while f.tell() < target:
            block.append(line.format(i, i % 997))
            i += 1
            if len(block) == 10_000:
                f.write("".join(block).encode())
                block = []
        f.write("".join(block).encode())
        f.write(f"\r\n--{boundary}--\r\n".encode())
        return i


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--preview", action="store_true", help="press 'Check the upload' instead of 'Create'")
    parser.add_argument("--worker", action="store_true", help="then process a queued upload as a worker would")
    args = parser.parse_args()
    env = {**os.environ, "TESTING": "true", "DEBUG": "false"}
    python = sys.executable
    setup = (
        "from django.contrib.auth.models import Group, User\n"
        "from jobs.models import Account\n"
        "u, _ = User.objects.get_or_create(username='upload-bench')\n"
        "u.set_password('upload-bench-pw'); u.save(); u.groups.add(Group.objects.get(name='operator'))\n"
        "a = Account.objects.filter(name='upload-bench').first() or Account(name='upload-bench', vendor='micro',"
        " base_url='http://127.0.0.1:9', settings={'team_id': 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'})\n"
        "a.credentials = {'api_key': 'k'}; a.save(); print(a.uuid)\n"
    )
    subprocess.run([python, "manage.py", "migrate", "-v0"], env=env, check=True)
    account = subprocess.run(
        [python, "manage.py", "shell", "-c", setup], env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    port = _free_port()
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "dashboard.wsgi:application", "--bind", f"127.0.0.1:{port}", *GUNICORN],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(base + "/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        worker = int(subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()[0])
        session = requests.Session()
        login = session.get(base + "/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        session.post(
            base + "/login/",
            data={"username": "upload-bench", "password": "upload-bench-pw", "csrfmiddlewaretoken": token},
            headers={"Referer": base + "/login/"},
        )
        session.get(base + "/pipelines/new/")
        csrf = session.cookies["csrftoken"]
        boundary = uuid.uuid4().hex
        fields = {"csrfmiddlewaretoken": csrf, "what": f"{account}:import", "object_type": "contact"}
        if args.preview:
            fields["preview"] = "1"
        before = _memory(worker)
        with tempfile.TemporaryDirectory() as tmp:
            body = Path(tmp) / "body"
            rows = _csv_body(body, args.mb, boundary, fields)
            started = time.monotonic()
            with body.open("rb") as f:
                response = session.post(
                    base + "/pipelines/new/",
                    data=f,
                    headers={
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                        "Referer": base + "/pipelines/new/",
                        "Content-Length": str(body.stat().st_size),
                    },
                    allow_redirects=False,
                    timeout=900,
                )
            took = time.monotonic() - started
        after = _memory(worker)
        print(
            f"{args.mb} MB CSV ({rows:,} rows), {'preview' if args.preview else 'create'}: HTTP {response.status_code} "
            f"in {took:.1f} s; worker RSS before {before['VmRSS']} MB, peak {after['VmHWM']} MB, "
            f"after {after['VmRSS']} MB"
        )
        print("answer:", re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))[:300].strip())
        location = response.headers.get("Location", "")
        print("location:", location)
        if args.worker and location.startswith("/uploads/"):
            work = (
                "import resource, time\n"
                "from jobs import upload_queue\nfrom jobs.models import Upload\n"
                f"u = Upload.objects.get(uuid='{location.split('/')[2]}')\n"
                "t = time.monotonic(); upload_queue.process(u.pk); u.refresh_from_db()\n"
                "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
                "print(f'worker: {u.status} in {time.monotonic() - t:.1f} s, {u.rows_read:,} rows; '\n"
                "      f'peak RSS {peak} MB; {u.message[:150]}')\n"
            )
            out = subprocess.run([python, "manage.py", "shell", "-c", work], env=env, capture_output=True, text=True)
            print(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-2000:])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
