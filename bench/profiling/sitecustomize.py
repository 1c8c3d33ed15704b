"""CPU profile of a `scrumy worker` process from its first claim, for bench/throughput.py.

cProfile under asyncio, with care: the timer is `time.process_time` (CPU, not wall time: a
coroutine waiting on the database or the emulator is not charged), and profiling starts at
the worker's first claim, so start-up imports and migrations are left out. Read `tottime`
(per function, reliable) rather than `cumtime` (a coroutine is "called" again at every resume).

Used by putting this folder first on PYTHONPATH with PROF_CP set to a path prefix:

    PYTHONPATH=bench/profiling PROF_CP=/tmp/worker .venv/bin/python bench/throughput.py \\
        --latency-ms 0 --cases postgresql-1

Each worker writes `/tmp/worker-<pid>.prof` when it stops (`python -m pstats` reads it). Only
processes with DATABASE_URL set (the workers) are profiled, not the bench itself.
"""

from __future__ import annotations

import atexit
import cProfile
import os
import time
from typing import Any

if os.environ.get("PROF_CP") and os.environ.get("DATABASE_URL"):
    import routing.outbox
    import routing.worker

    _profile = cProfile.Profile(time.process_time)
    _claim = routing.outbox.claim_due
    _started: list[bool] = []

    async def _claim_due(*args: Any, **kwargs: Any) -> Any:
        if not _started:
            _started.append(True)
            _profile.enable()
        return await _claim(*args, **kwargs)

    setattr(routing.outbox, "claim_due", _claim_due)  # noqa: B010 (patched for the profile)
    setattr(routing.worker, "claim_due", _claim_due)  # noqa: B010

    def _dump() -> None:
        _profile.disable()
        _profile.dump_stats(f"{os.environ['PROF_CP']}-{os.getpid()}.prof")

    atexit.register(_dump)
