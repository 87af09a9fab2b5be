"""The zero-setup broker: Celery's filesystem transport with atomic writes.

kombu's filesystem transport creates a message file empty and fills it afterwards; a consumer
listing the folder in between moves the empty file away, fails to parse it and the worker dies
(`JSONDecodeError`, celery/kombu#1551). The exchange table is written the same way. Here every
file is written under a name no reader looks at and then renamed into place, which POSIX makes
atomic within one folder, so a reader sees a whole file or none. A file that still cannot be
parsed (a disk fault, a hand edit) is set aside in `rejected/` and logged instead of stopping
the worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from pathlib import Path
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

# Readers take only names ending in `.msg` (queues) or `.exchange` (tables): a `.tmp` is invisible.
_TMP_SUFFIX = ".tmp"


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees a partial file."""
    folder = os.path.dirname(os.fspath(path)) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Channel(filesystem.Channel):
    """Same folders and file names as kombu's channel; only how files are written differs."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        # Nanoseconds, zero-padded: names sort in the order they were written, within a process too.
        filename = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, filename)
        try:
            write_atomically(path, str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {filename!r} to directory") from exc

    def _get(self, queue: str) -> Any:
        queue_find = f"{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != queue_find:
                continue
            source = os.path.join(self.data_folder_in, filename)
            # Claim by rename inside the same file system: atomic, so two consumers never share one.
            claimed = os.path.join(self._claim_folder, filename)
            try:
                os.replace(source, claimed)
            except OSError:
                continue  # taken by another consumer in the meantime
            try:
                with open(claimed, "rb") as f:
                    payload = f.read()
                message = loads(bytes_to_str(payload))
            except (OSError, ValueError) as exc:
                self._reject(claimed, filename, exc)
                continue
            if not self.store_processed:
                os.unlink(claimed)
            return message
        raise filesystem.Empty()

    def _reject(self, claimed: str, filename: str, exc: Exception) -> None:
        rejected = Path(self.data_folder_in).parent / "rejected"
        rejected.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.replace(claimed, rejected / filename)
        log.error("broker: set aside unreadable message %s (%s: %s)", filename, type(exc).__name__, exc)

    @property
    def _claim_folder(self) -> str:
        folder = self.processed_folder if self.store_processed else os.path.join(self.data_folder_in, ".claimed")
        os.makedirs(folder, exist_ok=True)
        return folder

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        self._update_table(exchange, add=filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or ""))

    def _delete(self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any) -> None:
        # The virtual channel's own bookkeeping first, as kombu's channel does; then the table.
        super(filesystem.Channel, self)._delete(queue, exchange, routing_key, pattern, *args, **kwargs)
        self._update_table(exchange, remove=filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or ""))

    def _update_table(self, exchange: str, add: Any = None, remove: Any = None) -> None:
        """Read-modify-replace the exchange table under a lock file, so concurrent binds lose nothing."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        lock_path = self.control_folder / f".{exchange}.lock"
        try:
            with open(lock_path, "ab") as lock_file:
                filesystem.lock(lock_file, filesystem.LOCK_EX)
                try:
                    queues = self.get_table(exchange)
                    if add is not None and add not in queues:
                        queues.insert(0, add)
                    elif remove is not None and remove in queues:
                        queues.remove(remove)
                    else:
                        return
                    write_atomically(file, str_to_bytes(dumps(queues)))
                finally:
                    filesystem.unlock(lock_file)
        except OSError as exc:
            raise ChannelError(f"Cannot update {file}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
    global_state = filesystem.Transport.global_state
