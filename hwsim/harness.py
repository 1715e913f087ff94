"""Running the rig's pieces as child processes (the daemon, ``hwsim exchange``, an IVR, a desk) from a script or a
test: each child's stdout lines are collected by a thread (parsed as JSON where they are JSON: ``hwsim exchange
--json`` and ``ctid`` tools print one object per line), so a script can wait for a named event.

    ex = Child("exchange", [sys.executable, "-m", "hwsim", "exchange", "--socket", sock, "--json", ...])
    ex.event("ready", timeout=60)            # the first {"event": "ready", ...} line
    ...
    ex.stop()
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child_env(**extra) -> dict:
    """This checkout first on PYTHONPATH, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Child:
    """A child process whose stdout lines are collected. ``logdir``: its stdout is also written to
    ``<logdir>/<name>.out`` (and stderr to ``<name>.err``; without ``logdir`` stderr joins stdout)."""

    def __init__(self, name: str, argv: list[str], *, logdir: str | None = None, env: dict | None = None,
                 cwd: str | None = None):
        self.name = name
        self.lines: list = []
        self.q: queue.Queue = queue.Queue()
        self.log = open(os.path.join(logdir, f"{name}.out"), "w") if logdir else None
        self.err = open(os.path.join(logdir, f"{name}.err"), "w") if logdir else None
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                  stderr=self.err if self.err is not None else subprocess.STDOUT,
                                  text=True, env=env or child_env(), cwd=cwd or ROOT, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.p.stdout:
            if self.log is not None:
                self.log.write(line)
                self.log.flush()
            try:
                obj = json.loads(line)
            except ValueError:
                obj = line.rstrip("\n")
            self.lines.append(obj)
            self.q.put(obj)

    def tail(self, n: int = 40) -> str:
        return "\n".join(map(str, self.lines[-n:]))

    def wait_for(self, pred, timeout: float, what: str):
        """The first line (seen before or arriving within ``timeout`` s) for which ``pred`` holds; TimeoutError
        naming ``what``, the exit status and the last lines otherwise."""
        end = time.monotonic() + timeout
        for obj in list(self.lines):
            if pred(obj):
                return obj
        while time.monotonic() < end:
            try:
                obj = self.q.get(timeout=0.2)
            except queue.Empty:
                if self.p.poll() is not None and self.q.empty():
                    break
                continue
            if pred(obj):
                return obj
        raise TimeoutError(f"{self.name}: {what} not seen in {timeout} s; exit={self.p.poll()}; "
                           f"output tail:\n{self.tail()}")

    def event(self, name: str, timeout: float = 60):
        return self.wait_for(lambda o: isinstance(o, dict) and o.get("event") == name, timeout, f"event {name}")

    def cpu(self) -> float:
        """utime + stime of the process so far, in seconds (Linux /proc)."""
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> None:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
