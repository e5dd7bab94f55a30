"""The in-flight log: the events of a process killed with SIGKILL are recovered by the next one,
each once, as they were last known; rotation carries the running requests over."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from app.domain.events import Event
from app.events.inflight import INTERRUPTED, InFlightLog, recover


def _killed_writer(directory: Path) -> None:
    """A process that admits three requests, finishes one, and is killed with SIGKILL."""
    script = textwrap.dedent(f"""
        import os, signal
        from app.domain.events import Event
        from app.events.inflight import InFlightLog
        log = InFlightLog({str(directory)!r})
        for name in ("a", "b", "c"):
            log.begin(Event(id=name, created_at=1, key_id="k", model="m", path="/p", status=0))
        log.end(Event(id="a", created_at=1, key_id="k", model="m", path="/p", status=200,
                      prompt_token_count=5, request_body=b"{{}}"))
        log.end(Event(id="d", created_at=1, key_id="k", path="/p", status=401))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).parents[2], check=False
    )
    assert done.returncode == -9


def test_a_killed_process_leaves_every_admitted_request_recoverable_once(tmp_path):
    _killed_writer(tmp_path)
    stored: list[Event] = []
    assert recover(str(tmp_path), stored.extend) == 4
    by_id = {e.id: e for e in stored}
    assert sorted(by_id) == ["a", "b", "c", "d"]
    assert (by_id["a"].status, by_id["a"].prompt_token_count, by_id["a"].request_body) == (
        200,
        5,
        b"{}",
    )
    assert by_id["b"].status == 0 and by_id["b"].error == INTERRUPTED and by_id["b"].key_id == "k"
    assert by_id["d"].status == 401
    assert list(tmp_path.glob("inflight-*")) == []  # handed over, then deleted
    assert recover(str(tmp_path), stored.extend) == 0


def test_a_live_process_file_is_never_taken(tmp_path):
    log = InFlightLog(str(tmp_path))
    log.begin(Event(id="x", created_at=1))
    assert recover(str(tmp_path), lambda events: None) == 0
    assert len(list(tmp_path.glob("inflight-*"))) == 1
    log.close(drained=False)  # still running: kept for the next process
    recovered: list[Event] = []
    assert recover(str(tmp_path), recovered.extend) == 1 and recovered[0].error == INTERRUPTED


def test_rotation_carries_running_requests_and_prunes_once_settled(tmp_path):
    log = InFlightLog(str(tmp_path), max_bytes=2000)
    log.begin(Event(id="long", created_at=1, model="m"))
    for index in range(40):
        log.end(Event(id=f"e{index}", created_at=1, status=200))
    files = list(tmp_path.glob("inflight-*"))
    assert len(files) > 1
    log.prune(lambda: False)
    assert len(list(tmp_path.glob("inflight-*"))) == len(files)
    log.prune(lambda: True)
    [current] = tmp_path.glob("inflight-*")
    assert b'"id":"long"' in current.read_bytes()  # the running request started the new file
    log.close(drained=True)
    assert list(tmp_path.glob("inflight-*")) == [current]  # "long" never ended: kept
