"""Board A in the far-end tests: ctid's own stacks as a trivial answering side (a stand-in for the daemon).

SS7 (MTP2 on TS16, Mtp3Layer, IsupCallControl that answers every IAM), China No.1 (a backward CasChannel on
every timeslot that answers), an FXO port that answers after the caller ID and goes on hook when the line
polarity returns to normal (the exchange hung up), and an FXS port. Every answered channel plays a known audio
pattern (pseudo-speech: band-limited noise in syllables, from a seed); DTMF is detected on every channel by
ctid.dsp's Bank, and a "2" switches that channel to the pattern of seed 2 (the "department list")."""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter

from ctid.drivers import E1_SLOTS, AbcdEvent, HdlcEvent, PolarityEvent, RingEvent
from ctid.drivers.model import VOICE_TIMESLOTS
from ctid.dsp import Bank
from ctid.dsp.g711 import alaw_encode
from ctid.dsp.params import R2Params
from ctid.signaling.china1 import CHINA, CasChannel, NumberRules
from ctid.signaling.ss7.isup_cc import IsupCallControl
from ctid.signaling.ss7.mtp2_link import Mtp2Link
from ctid.signaling.ss7.mtp3_layer import Mtp3Layer
from ctid.signaling.ss7.transport import HdlcTransport

OPC, DPC = 0x2A51, 0x0123
HOSPITAL = "114"


def pattern(seed: int, seconds: float = 3.0) -> np.ndarray:
    """Pseudo-speech as A-law: syllables (4 per second) of noise through a band-pass whose centre moves."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 8000)
    out = np.zeros(n)
    syl = 2000
    for k in range(0, n, syl):
        lo = rng.uniform(300, 1200)
        b, a = butter(2, [lo / 4000, min(0.95, (lo + rng.uniform(400, 1500)) / 4000)], btype="band")
        seg = lfilter(b, a, rng.standard_normal(syl))
        env = np.sin(np.linspace(0, np.pi, syl)) ** 2 * rng.uniform(0.4, 1.0)
        out[k:k + syl] = seg[: n - k] * env[: n - k]
    out *= 6000 / (np.sqrt(np.mean(out ** 2)) + 1e-9)
    return alaw_encode(np.clip(out, -32768, 32767).astype(np.int16))


class Answerer:
    def __init__(self, board, clock, ss7_span=0, no1_span=1, fxo_ports=(0,), called_length=len(HOSPITAL),
                 emergency=True):
        self.board, self.clock = board, clock
        self.bank = Bank(board.nchannels, law="alaw")
        self.bank.set_mask_all(0)
        self.bank.set_r2_params(R2Params.defaults(backward=True, china=True))
        self.playing: dict[int, list] = {}          # channel -> [pattern, position]
        self.digits: dict[int, str] = {}
        self.calls = []                              # ISUP calls answered
        self.cids: dict[int, dict] = {}
        self.fxo_state: dict[int, str] = {}
        self.log: list[tuple[float, str]] = []
        self.ss7_span, self.no1_span = ss7_span, no1_span
        self.transport = HdlcTransport(board, ss7_span, 16)
        self.mtp2 = Mtp2Link(clock, self.transport, name="A-mtp2", emergency=emergency)
        self.mtp3 = Mtp3Layer(clock, OPC, "itu", name="A")
        self.mtp3.add_linkset(DPC, [self.mtp2])
        self.cc = IsupCallControl(self.mtp3, DPC, [t for t in VOICE_TIMESLOTS], clock, on_incoming=self._iam)
        self.mtp3.start()
        self.cas: dict[int, CasChannel] = {}
        rules = NumberRules(default_length=called_length)
        for ts in VOICE_TIMESLOTS:
            hw = board.spans[no1_span].timeslot(ts)
            ch = CasChannel("in", hw, self.bank, clock, CHINA, numbers=rules,
                            listener=self._cas_event, decide=lambda *a: "free")
            self.cas[hw.number] = ch
        self.fxo = {p: board.info.nspans * E1_SLOTS + p for p in fxo_ports}
        for p, n in self.fxo.items():
            self.bank.set_mask(n, "cid")
            self.fxo_state[p] = "idle"

    # calls -----------------------------------------------------------------------------------------
    def _answer_channel(self, n: int) -> None:
        self.playing[n] = [pattern(1), 0]
        self.digits[n] = ""
        self.bank.set_mask(n, "dtmf")

    def _stop_channel(self, n: int) -> None:
        self.playing.pop(n, None)
        self.bank.set_mask(n, 0)

    def _iam(self, call) -> None:
        self.log.append((self.clock.seconds(), f"IAM {call.called} from {call.calling} cic={call.cic}"))
        self.calls.append(call)
        self.cc.alert(call)
        self.cc.answer(call)
        n = self.ss7_span * E1_SLOTS + call.cic
        self._answer_channel(n)
        call.released.addCallback(lambda cause, n=n: self._stop_channel(n))

    def _cas_event(self, ch, event, **info) -> None:
        self.log.append((self.clock.seconds(), f"no1 {ch.number} {event}"))
        if event == "offered":
            ch.answer()
            self._answer_channel(ch.number)
        elif event in ("clear_forward", "idle", "out_of_service"):
            self._stop_channel(ch.number)

    def release_ss7(self, call, cause=16) -> None:
        self.cc.release(call, cause)

    # the tick ----------------------------------------------------------------------------------------
    def step(self) -> None:
        for ev in self.board.events():
            if isinstance(ev, HdlcEvent) and ev.span == self.ss7_span:
                self.transport.frame(ev.frame)
            elif isinstance(ev, AbcdEvent):
                ch = self.cas.get(ev.span * E1_SLOTS + ev.timeslot)
                if ch is not None:
                    ch.on_abcd(ev.abcd)
            elif isinstance(ev, RingEvent) and ev.port in self.fxo:
                if self.fxo_state[ev.port] == "idle" and ev.on:
                    self.fxo_state[ev.port] = "ringing"
                self.log.append((self.clock.seconds(), f"ring {ev.port} {ev.on}"))
            elif isinstance(ev, PolarityEvent) and ev.port in self.fxo:
                self.log.append((self.clock.seconds(), f"polarity {ev.port} {ev.reversed}"))
                if not ev.reversed and self.fxo_state[ev.port] == "answered":
                    self.board.port_hook(ev.port, False)         # the far end hung up: on hook
                    self.fxo_state[ev.port] = "idle"
                    self._stop_channel(self.fxo[ev.port])
                    self.bank.set_mask(self.fxo[ev.port], "cid")
        self.transport.poll(self.board.world.time)
        block = self.board.read_block()
        for ev in self.bank.process(block):
            if ev.kind in ("r2f", "r2b") and ev.type in ("on", "off"):
                ch = self.cas.get(ev.channel)
                if ch is not None:
                    ch.on_tone(ev.type == "on", ev.value)
            elif ev.kind == "dtmf" and ev.type == "on":
                self.digits[ev.channel] = self.digits.get(ev.channel, "") + ev.value
                if ev.value == "2" and ev.channel in self.playing:
                    self.playing[ev.channel] = [pattern(2), 0]
            elif ev.kind == "cid" and ev.type == "msg":
                port = next(p for p, n in self.fxo.items() if n == ev.channel)
                self.cids[port] = ev.value
                if self.fxo_state[port] == "ringing":
                    self.board.port_hook(port, True)
                    self.fxo_state[port] = "answered"
                    self._answer_channel(ev.channel)
        out = self.board.new_block(0xD5)
        for n, st in self.playing.items():
            pat, pos = st
            idx = (pos + np.arange(160)) % pat.size
            out[:, n] = pat[idx]
            st[1] = (pos + 160) % pat.size
        for n, ch in self.cas.items():
            a = ch.audio()
            if a is not None:
                out[:, n] = a
        self.board.write_block(out)
