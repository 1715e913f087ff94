"""Random calls with bad and edge-case arguments through the driver API (run by test_driver_hwsim in a
subprocess, so that a crash of the process is seen as a failure). Every call must succeed or raise DriverError."""
import os
import random
import sys
import tempfile

import numpy as np

from ctid.drivers import DriverError, SpanConfig, open_board
from ctid.drivers.hwsim import World

rng = random.Random(int(sys.argv[1]))
PCAP = os.path.join(tempfile.gettempdir(), f"fuzz-{os.getpid()}.pcap")
vals = [-2**31, -1000, -1, 0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 279, 280, 281, 2**31-1]
w = World(3)
a = open_board("hwsim", 0, world=w, spans=2, ports=["fxs", "fxo"], span_config=["cas", "ccs"])
b = open_board("hwsim", 1, world=w, spans=2, span_config=["cas", "ccs"])
w.cable(0, 0, 1, 0)
w.cable(0, 1, 1, 1)
calls = [
 lambda: a.set_abcd(rng.choice(vals), rng.choice(vals), rng.choice(vals)),
 lambda: a.get_abcd(rng.choice(vals), rng.choice(vals)),
 lambda: a.hdlc_send(rng.choice(vals), rng.choice(vals), bytes(rng.randrange(0, 300))),
 lambda: a.hdlc_recv(rng.choice(vals), rng.choice(vals)),
 lambda: a.hdlc_enable(rng.choice(vals), rng.choice(vals), rng.random() < .5),
 lambda: a.hdlc_idle_repeat(rng.choice(vals), rng.choice(vals), rng.random() < .5),
 lambda: a.port_ring(rng.choice(vals), True), lambda: a.port_hook(rng.choice(vals), rng.random() < .5),
 lambda: a.port_flash(rng.choice(vals)), lambda: a.port_state(rng.choice(vals)),
 lambda: a.port_polarity(rng.choice(vals), True),
 lambda: a.connect(rng.choice(vals), rng.choice([-1, 0, 1, 2, 99]), rng.choice(vals)),
 lambda: w.cable(rng.choice([0, 1, 5]), rng.choice(vals), rng.choice([0, 1, 5]), rng.choice(vals)),
 lambda: w.cut(rng.choice([0, 1, 5]), rng.choice(vals), rng.random() < .5),
 lambda: w.fault_ber(rng.choice([0, 1]), rng.choice([0, 1, 9]), rng.choice([0, 1e-3, 0.6, float("nan"), -1])),
 lambda: w.fault_slips(rng.choice([0, 1]), rng.choice([0, 1]), rng.choice([0, 10, 5000, float("nan")])),
 lambda: w.fault_ais(rng.choice([0, 1]), rng.choice([0, 1, 2]), rng.random() < .5),
 lambda: w.fault_channel(rng.choice([0, 1]), rng.choice(vals), rng.choice([-200, -40, 5, float("nan")]),
                         rng.choice([0, 10, -1, 200, float("inf")])),
 lambda: w.phone(0, rng.choice(vals)).hook(True),
 lambda: w.phone(0, 0).dial(rng.choice(["123", "x", "1" * 200, ""]), rng.choice(vals), rng.choice(vals)),
 lambda: w.phone(0, 0).flash(rng.choice(vals)),
 lambda: w.line(0, 1).ring(rng.choice(["1", "x", "9" * 30, None]), rng.choice(["n", "é" * 30, None])),
 lambda: w.line(0, 1).hangup(), lambda: w.line(0, 1).play(np.zeros(rng.choice([0, 10, 90000]), np.int16)),
 lambda: w.phone(0, 0).listen(rng.choice([0, 10, 100000])),
 lambda: a.configure_span(rng.choice(vals),
                          SpanConfig(rng.random() < .5, rng.choice(["cas", "ccs", "clear"]))),
 lambda: a.write_block(a.new_block()), lambda: a.read_block(),
 lambda: w.tick(rng.choice([0, 1, 2, -1])), lambda: a.events(), lambda: b.events(),
 lambda: w.capture(rng.choice([0, 1]), rng.choice(vals), rng.choice(vals),
                   rng.choice([None, PCAP, "/nonexistent/x.pcap"]), rng.choice([139, 140, 1])),
 lambda: a.stop(), lambda: a.start(), lambda: w.fault_dead(1, rng.random() < .3),
]
n = 0
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 20000):
    try:
        rng.choice(calls)()
    except DriverError:
        n += 1
print("ok", n)
w.close()
if os.path.exists(PCAP):
    os.unlink(PCAP)
