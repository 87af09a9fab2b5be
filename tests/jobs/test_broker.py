"""The zero-setup broker (dashboard/broker.py) under load: concurrent producers in their own
processes and a consumer draining at the same time lose nothing, duplicate nothing and never
hand the consumer a partial file (kombu's own transport does, celery/kombu#1551). Bindings live
in kombu's per-process global state, so each test uses queue names of its own."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

PRODUCERS = 4
PER_PRODUCER = 1500


def _options(root: Path) -> dict[str, object]:
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "control_folder": str(root / "control"),
        "processed_folder": str(root / "processed"),
        "store_processed": False,
    }


def _connection(root: Path) -> Connection:
    return Connection("filesystem://", transport="dashboard.broker:Transport", transport_options=_options(root))


def _produce(root: str, producer: int, count: int, start: multiprocessing.synchronize.Event) -> None:
    start.wait()
    with _connection(Path(root)) as conn:
        queue = conn.SimpleQueue("stress")
        for i in range(count):
            queue.put({"producer": producer, "n": i, "pad": "x" * (i % 4096)})
        queue.close()


def _bind(root: str, name: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait()
    with _connection(Path(root)) as conn:
        Queue(name, Exchange("fan", type="fanout"))(conn.default_channel).declare()


@pytest.fixture
def broker_dir(tmp_path: Path) -> Path:
    for sub in ("queue", "control", "processed"):
        (tmp_path / sub).mkdir()
    return tmp_path


def test_concurrent_producers_and_a_consumer_lose_and_duplicate_nothing(broker_dir: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_produce, args=(str(broker_dir), p, PER_PRODUCER, start)) for p in range(PRODUCERS)]
    for proc in procs:
        proc.start()
    seen: list[tuple[int, int]] = []
    with _connection(broker_dir) as conn:
        queue = conn.SimpleQueue("stress")
        start.set()  # the consumer drains while every producer is still writing
        while len(seen) < PRODUCERS * PER_PRODUCER:
            message = queue.get(timeout=60)
            seen.append((message.payload["producer"], message.payload["n"]))
            assert message.payload["pad"] == "x" * (message.payload["n"] % 4096)
            message.ack()
        queue.close()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert len(set(seen)) == len(seen) == PRODUCERS * PER_PRODUCER
    # Per producer, messages come out in the order they went in.
    for p in range(PRODUCERS):
        assert [n for producer, n in seen if producer == p] == list(range(PER_PRODUCER))
    assert not (broker_dir / "rejected").exists()
    assert [f for f in os.listdir(broker_dir / "queue") if not f.startswith(".")] == []


def test_concurrent_binds_keep_every_binding(broker_dir: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    names = [f"q{i}" for i in range(12)]
    procs = [ctx.Process(target=_bind, args=(str(broker_dir), name, start)) for name in names]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    with _connection(broker_dir) as conn:
        table = conn.default_channel.get_table("fan")
    assert sorted(q.queue for q in table) == sorted(names)


def test_an_unreadable_message_is_set_aside_and_the_next_one_delivered(broker_dir: Path) -> None:
    with _connection(broker_dir) as conn:
        queue = conn.SimpleQueue("q")
        # A file that is not a message (disk fault, hand edit) sorts first; it must not stop the consumer.
        (broker_dir / "queue" / "0.q.msg").write_bytes(b"")
        queue.put({"ok": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"ok": 1}
        message.ack()
        queue.close()
    assert os.listdir(broker_dir / "rejected") == ["0.q.msg"]


def test_no_partial_file_is_ever_visible_under_a_queue_name(broker_dir: Path) -> None:
    """The write goes to a hidden temporary name and is renamed into place."""
    from dashboard import broker

    seen_during_write: list[list[str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen_during_write.append(sorted(os.listdir(broker_dir / "queue")))
        real_replace(src, dst)

    with _connection(broker_dir) as conn:
        queue = conn.SimpleQueue("partial")
        broker.os.replace = spy
        try:
            queue.put({"n": 1})
        finally:
            broker.os.replace = real_replace
        queue.close()
    assert seen_during_write, "the message was not written through a rename"
    assert all(not name.endswith(".msg") for name in seen_during_write[0])
