"""One writer at a time per index folder: an exclusive flock on `write.lock`, which also says who holds it.

The kernel drops the lock when its holder exits (even by SIGKILL), so a crashed writer never blocks the next one.
A writer that has to wait is told who it waits for (pid, command, since when) through `on_wait`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rag.errors import RagError

LOCK_NAME = "write.lock"


def this_command() -> str:
    return " ".join(["rag", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("rag") else " ".join(sys.argv)[:200]


class WriterLock:
    def __init__(self, index_dir: Path, command: str = "", timeout_s: float = 3600.0,
                 on_wait: Callable[[str], None] | None = None) -> None:
        self.path = Path(index_dir) / LOCK_NAME
        self.command = command or this_command()
        self.timeout_s, self.on_wait = timeout_s, on_wait
        self._fd: int | None = None

    def holder(self) -> str:
        """Who holds the lock, in words (from what the holder wrote into the lock file)."""
        try:
            info = json.loads(self.path.read_text() or "{}")
            since = time.strftime("%H:%M:%S", time.localtime(info["since"]))
            return f"pid {info['pid']} ({info['command']}), writing since {since}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def __enter__(self) -> WriterLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._wait(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": self.command, "since": time.time()}).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _wait(self, fd: int) -> None:
        who = self.holder()
        if self.on_wait:
            self.on_wait(f"Waiting for the index at {self.path.parent} to be free: {who} is writing to it.")
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RagError(f"The index at {self.path.parent} is still being written by {who} after "
                                   f"{self.timeout_s:.0f} s. Wait for it to finish and retry (nothing was "
                                   "written by this command).") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
