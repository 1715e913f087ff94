"""The daemon's scheduling priority (``[daemon] priority``, ``ctid run --priority``).

A telephony daemon handles 20 ms blocks of audio for hundreds of calls: when the machine is busy, the time the
kernel takes to give it a CPU after a block has arrived adds directly to every event's latency (a DTMF digit
reaches the CTI clients later) and, if it grows past the board's buffering, loses audio. Asterisk therefore
offers ``asterisk -p`` (SCHED_RR, falling back to a high nice value) and FreeSWITCH ``-hp`` (high priority) and
``-rp`` (real-time). ctid offers the same three levels:

* ``normal``: the process is left as started (nice 0, SCHED_OTHER);
* ``high``: nice -10 (``setpriority``), FreeSWITCH's ``-hp``: the kernel prefers the daemon when it wakes up, but
  everything else still runs;
* ``realtime``: SCHED_RR at priority 10 (``sched_setscheduler``), Asterisk's ``-p``: the daemon preempts every
  normal process. Every thread the daemon starts afterwards inherits it, including the TTS rendering and the file
  I/O threads, so a long TTS rendering competes with the media tick at the same priority: use it on a machine
  dedicated to ctid.

Both need root (CAP_SYS_NICE) or a matching ``ulimit -e`` / ``-r``. When not permitted the daemon says so and
runs one level lower (realtime -> high -> normal) instead of refusing to start, as Asterisk does. On Linux both
settings apply to the calling thread and are inherited by threads created later, so :func:`apply` is called
first thing in ``ctid run``, before the reactor and its thread pools start.
"""
from __future__ import annotations

import os

PRIORITIES = ("normal", "high", "realtime")
HIGH_NICE = -10          # FreeSWITCH -hp, Asterisk's fallback
RT_PRIORITY = 10         # Asterisk's SCHED_RR priority


def apply(priority: str, osmod=os) -> list[str]:
    """Set the calling thread's scheduling to ``priority``; returns the log lines saying what was done (and what
    was refused, with the reason). ``osmod`` is :mod:`os` (a test double in tests)."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    notes: list[str] = []
    if priority == "normal":
        return notes
    if priority == "realtime":
        try:
            osmod.sched_setscheduler(0, osmod.SCHED_RR, osmod.sched_param(RT_PRIORITY))
            notes.append(f"priority realtime: SCHED_RR priority {RT_PRIORITY}")
            return notes
        except (OSError, AttributeError) as exc:
            notes.append(f"priority realtime refused ({_why(exc)}); trying high")
    try:
        osmod.setpriority(osmod.PRIO_PROCESS, 0, HIGH_NICE)
        notes.append(f"priority high: nice {HIGH_NICE}")
    except (OSError, AttributeError) as exc:
        notes.append(f"priority high refused ({_why(exc)}); running at normal priority")
    return notes


def _why(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "not permitted: needs root, CAP_SYS_NICE or ulimit -e/-r"
    if isinstance(exc, AttributeError):
        return "not supported on this system"
    return str(exc)
