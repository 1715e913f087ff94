"""Two links over a SOCK_SEQPACKET socketpair on a real Twisted reactor (run in a subprocess: a reactor runs once
per process). Short proving (timers shortened) so the run is brief; the assertion is on the outcome only."""
from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r'''
import json, socket
from twisted.internet import reactor
from ctid.signaling.ss7.mtp2_link import Mtp2Link, Mtp2Timers
from ctid.signaling.ss7.transport import SeqpacketTransport
sa, sb = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
tm = Mtp2Timers(t4n=0.3, t4e=0.1)
a = Mtp2Link(reactor, SeqpacketTransport(sa, reactor), name="A", timers=tm)
b = Mtp2Link(reactor, SeqpacketTransport(sb, reactor), name="B", timers=tm)
got = []
b.on_msu = got.append
def check():
    if a.in_service and b.in_service and not got:
        for i in range(50):
            a.send_msu(bytes([0x85, 1, 2, i]))
    if len(got) == 50:
        reactor.stop()
        return
    reactor.callLater(0.02, check)
a.start(); b.start()
reactor.callLater(0.02, check)
reactor.callLater(20, reactor.stop)
reactor.run()
print(json.dumps({"a": a.state.value, "b": b.state.value, "got": [g.hex() for g in got]}))
'''


def test_seqpacket_links_on_a_real_reactor():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["a"] == res["b"] == "IN_SERVICE"
    assert res["got"] == [bytes([0x85, 1, 2, i]).hex() for i in range(50)]
