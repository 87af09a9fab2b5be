"""FullStory's official Node SDK (@fullstory/server-api-client 1.1.0, installed by `npm ci`
in tests/contract/fullstory_node) drives the simulator through its whole batch job flow.

Node and the SDK are required, not optional: .ci/run installs them and this test fails
(never skips) without them. Every exchange is also held to FullStory's swagger files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from vendors.fullstory.simulator import ENVELOPES, FullStoryWorld
from vendors.simulator.core import Clock, Fault, SimServer, Simulator

from .exchanges import Recorder
from .test_fullstory_contract import SPEC

NODE_DIR = Path(__file__).parent / "fullstory_node"
SDK = NODE_DIR / "node_modules" / "@fullstory" / "server-api-client" / "package.json"
KEY = "na1.sdk-key"


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js is not installed: .ci/run installs it (apt-get install nodejs npm)"
    assert SDK.exists(), f"the SDK is not installed: run `npm ci` in {NODE_DIR}"
    assert json.loads(SDK.read_text())["version"] == "1.1.0"
    return node


def test_the_sdk_is_pinned_by_the_lock_file() -> None:
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@fullstory/server-api-client"]["version"] == "1.1.0"
    assert json.loads((NODE_DIR / "package.json").read_text())["dependencies"] == {
        "@fullstory/server-api-client": "1.1.0"
    }


def test_the_official_sdk_runs_its_batch_flow_against_the_simulator() -> None:
    node = _node()
    sim = Simulator(Clock())  # real time: the SDK polls on its own timer
    recorder = Recorder(sim)
    FullStoryWorld(keys={KEY}, process_seconds=0.6).install(sim)
    message, code = ENVELOPES[429]
    # The throttled scenario's job is the third one created: its first status poll is a 429.
    throttle = Fault("status", "/v2/users/batch/fs-u-00003", 429, {"message": message, "code": code}, times=1)
    throttle.headers["Retry-After"] = "1"
    sim.inject(throttle)
    server = SimServer(sim).start()
    try:
        env = {"PATH": os.environ["PATH"], "NODE_ENV": "test", "FS_API_HOST": server.url, "FS_KEY": KEY}
        done = subprocess.run(
            [node, "batch_flow.js"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=90, check=False
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)

    events = out["events"]  # created, polled while processing, FAILED, its row errors read
    assert (events["outcome"], events["status"], events["created"]) == ("done", "FAILED", events["id"])
    assert events["processing"] >= 1 and events["errors"] == []
    assert [f["event"]["name"] for f in events["failed"]] == ["fail: Checkout"]
    assert events["failed"][0]["event"]["user"] == {"uid": "u-9"}  # the row as it was sent

    users = out["users"]  # COMPLETED, then every imported user over two pages
    assert (users["outcome"], users["status"], len(users["imported"])) == ("done", "COMPLETED", 131)
    assert users["imported"][0]["uid"] == "user-0" and all(u["id"] for u in users["imported"])
    assert users["imported"][-1]["display_name"] == "Anonymous visitor"

    restart = out["restart"]  # an existing job followed by id: the seed's
    assert (restart["outcome"], restart["status"], len(restart["failed"])) == ("done", "FAILED", 2)

    unknown, unauthorized = out["unknown"], out["unauthorized"]
    assert unknown["outcome"] == "aborted" and [(e["status"], e["code"]) for e in unknown["errors"]] == [
        (404, "resource_not_found")
    ]
    assert unauthorized["outcome"] == "aborted" and unauthorized["created"] is None
    assert [(e["status"], e["code"]) for e in unauthorized["errors"]] == [(401, "unauthorized")]

    throttled = out["throttled"]  # 429 with Retry-After: the SDK waits and carries on
    assert throttled["outcome"] == "done" and throttled["status"] == "COMPLETED"
    assert [(e["name"], e["status"], e["retryAfterMs"]) for e in throttled["errors"]] == [
        ("FS_RATE_LIMITED", 429, 1000)
    ]

    exchanges = recorder.take()
    assert [p for e in exchanges for p in SPEC.response_problems(e)] == []
    # The SDK sends no Content-Type; everything else it sends is as the description says.
    assert [p for e in exchanges for p in SPEC.request_problems(e.request, content_type=False)] == []
    creates = [e for e in exchanges if e.request.method == "POST"]
    assert len(creates) == 4 and all(e.request.headers.get("transfer-encoding") == "chunked" for e in creates)
    assert not any("content-length" in e.request.headers for e in creates)
    assert json.loads(creates[0].request.body)["requests"][3]["name"] == "fail: Checkout"
    sources = [e.request.headers.get("integration-source") for e in creates]
    assert sources == ["pipewatch-contract-test", "pipewatch-contract-test", None, "pipewatch-contract-test"]
    paths = {e.request.path.rsplit("/", 1)[-1] for e in exchanges if e.status == 200}
    assert {"errors", "imports"} <= paths
