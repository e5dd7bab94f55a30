"""Processes the benchmark starts and stops, and what /proc says about them (CPU time, memory).

Each process is started in a session of its own, so stopping it (SIGTERM, then SIGKILL after a
grace period) reaches its children too -- gunicorn's workers -- and nothing else.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class Managed:
    """One started process with its output in a log file."""

    def __init__(
        self, name: str, cmd: list[str], env: dict[str, str], cwd: Path, log: Path
    ) -> None:
        self.name, self.cmd, self.env, self.cwd, self.log = name, cmd, env, cwd, log
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.pid

    def start(self, stdout: int | None = None) -> Managed:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.popen = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.PIPE,
                stdout=stdout if stdout is not None else log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace_s: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.popen.wait(timeout=5)

    def _signal(self, signum: int) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(
                self.popen.pid, signum
            )  # the session we created: this process and its children

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the benchmark dies, so nothing is left running."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def running(proc: Managed) -> Iterator[Managed]:
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


# /proc ---------------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: [0] is state (field 3 in proc(5))."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    children = _children()
    found: list[int] = []
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its live descendants, plus its reaped children's."""
    total = 0
    root = _stat(pid)
    if root:
        total += sum(int(x) for x in root[11:15])  # utime, stime, cutime, cstime
    for child in descendants(pid):
        fields = _stat(child)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def tree_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process and its live descendants (reaped ones not split)."""
    user = system = 0
    for each in [pid, *descendants(pid)]:
        fields = _stat(each)
        if fields:
            user, system = user + int(fields[11]), system + int(fields[12])
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def workers_rss_bytes(pid: int) -> int:
    """Sum of the workers' resident memory: the descendants if there are any, else the process."""
    workers = descendants(pid) or [pid]
    return sum(rss_bytes(w) for w in workers)


class PeakSampler:
    """Samples a value while something runs; keeps the peak."""

    def __init__(self, read: Callable[[], int], every_s: float = 0.05) -> None:
        self.read, self.every_s, self.peak, self._next = read, every_s, 0, 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now >= self._next:
            self.peak = max(self.peak, self.read())
            self._next = now + self.every_s
