"""When a step is out of time: CPU time where the kernel counts it, the wall clock otherwise.

A program that waited for a core (a loaded host, a CPU hog, more programs than cores)
has not used its time: stopping it at the wall limit would score the machine's load as
the program's timeout. So a step with a CPU count is stopped once its wall clock has
passed the limit *and* it has had the limit in CPU time, or once the wall clock reaches
``WALL_CAP_FACTOR`` times the limit (a program that sleeps or blocks uses no CPU and must
still end). Without a CPU count (no cgroup), the wall limit alone applies. Both backends
follow this rule: the local backend through :func:`out_of_time`, the docker step driver
(``docker_driver.sh``) with the same two numbers.
"""

from __future__ import annotations

WALL_CAP_FACTOR = 3.0  # the wall clock's hard cap, as a multiple of the limit
CHECK_EVERY_S = 0.1  # how often the CPU count is read once the wall limit has passed


def wall_cap(limit: float) -> float:
    """The wall-clock time after which a step is stopped whatever its CPU time."""
    return limit * WALL_CAP_FACTOR


def out_of_time(wall: float, cpu: float | None, limit: float) -> bool:
    """Whether a step that has run ``wall`` seconds and used ``cpu`` CPU seconds (None:
    not counted) has spent its ``limit``."""
    if wall < limit:
        return False
    if cpu is None:
        return True
    return cpu >= limit or wall >= wall_cap(limit)
