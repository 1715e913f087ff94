"""The runnable examples in examples/, each run as its own process against a CTI server in this test."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from twisted.internet import defer, reactor, task, threads
from twisted.trial import unittest

from cti_helpers import ServerMixin

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(args, timeout=30):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


class Examples(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_agent_console_gets_call_and_screen_pop(self):
        def lookup(ctx, args):
            return {"patient": {"name": "Zhang San", "card": "P000123"} if args["number"] == "13800138000"
                    else None}
        self.server.register_op("patient.lookup", lookup, {"admin", "supervisor", "ivr", "agent"},
                                args={"number": (str, True)}, scope="number")
        d = threads.deferToThread(run, [str(EXAMPLES / "agent_console.py"), "--cti", f"tcp:127.0.0.1:{self.portno}",
                                        "--user", "1001", "--password", "a1-pw", "--extension", "analog/2",
                                        "--auto-answer", "--calls", "1"])
        for _ in range(3000):
            if self.engine.agents["1001"]["state"] == "ready" or d.called:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.engine.incoming("ss7/1", "c1", calling="13800138000")
        self.engine.offer("c1", "1001")
        proc = yield d
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout
        self.assertIn("logged in as 1001", out)
        self.assertIn("agent 1001 is ready", out)
        self.assertIn("CALL OFFERED  call=c1 from 13800138000 to 114", out)
        self.assertIn("SCREEN POP  name: Zhang San, card: P000123", out)
        self.assertIn("answered on analog/2", out)
        self.assertEqual([c[0] for c in self.engine.calls],
                         ["agent_login", "agent_ready", "answer", "agent_logout"])

    @defer.inlineCallbacks
    def test_wallboard_once(self):
        self.engine.queues["frontdesk"].update(waiting=3, ready_agents=1)
        self.engine.agents["1001"]["state"] = "ready"
        proc = yield threads.deferToThread(run, [str(EXAMPLES / "wallboard.py"), "--cti",
                                                 f"tcp:127.0.0.1:{self.portno}", "--user", "wall",
                                                 "--password", "wall-pw", "--once"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"frontdesk\s+3\s+1")
        self.assertIn("agents: 1 logged_out, 1 ready", proc.stdout)
        proc = yield threads.deferToThread(run, [str(EXAMPLES / "wallboard.py"), "--cti",
                                                 f"tcp:127.0.0.1:{self.portno}", "--user", "wall",
                                                 "--password", "nope", "--once"])
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("401", proc.stderr)
