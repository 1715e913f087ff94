"""A test double of ctid.media.runtime.BoardRuntime (the contract's API) for the trunk-adapter tests: events to
handlers, the block through a ctid.dsp.Bank, detector events to the channel's ``on_tone``, tick hooks, sources,
play of A-law buffers and China tones, written block. Test code only."""
from __future__ import annotations

import numpy as np
from twisted.internet import defer

from ctid.drivers.model import BLOCK_FRAMES
from ctid.dsp import Bank
from ctid.dsp.g711 import alaw_encode
from ctid.dsp.tonegen import ToneGenerator

SILENCE = 0xD5


class DoubleChannel:
    def __init__(self, rt, number):
        self.rt, self.number = rt, number
        self.on_tone = None
        self._source = None
        self._play = None           # (codes, pos, deferred)
        self._tone = None
        self.mask = {}

    def detect(self, dtmf=True, r2f=False, r2b=False, cpt=False, cid=False):
        self.mask = dict(dtmf=dtmf, r2f=r2f, r2b=r2b, cpt=cpt, cid=cid)
        self.rt.bank.set_mask(self.number, ",".join(k for k, v in self.mask.items() if v) or 0)

    def set_source(self, fn):
        self._source = fn

    def play(self, source, barge_in=False):
        if isinstance(source, list):
            source = np.concatenate([np.asarray(s, dtype=np.uint8) for s in source])
        d = defer.Deferred()
        self.stop()
        self._play = [np.asarray(source, dtype=np.uint8), 0, d]
        return d

    @property
    def playing(self):
        return self._play is not None

    def stop(self):
        p, self._play = self._play, None
        if p is not None:
            p[2].callback({"reason": "stopped", "digit": None})

    def tone(self, name):
        self._tone = ToneGenerator(name)

    def stop_tone(self):
        self._tone = None

    def _out(self):
        if self._play is not None:
            codes, pos, d = self._play
            chunk = codes[pos:pos + BLOCK_FRAMES]
            self._play[1] += BLOCK_FRAMES
            if self._play[1] >= len(codes):
                self._play = None
                d.callback({"reason": "done", "digit": None})
            if len(chunk) < BLOCK_FRAMES:
                chunk = np.concatenate([chunk, np.full(BLOCK_FRAMES - len(chunk), SILENCE, np.uint8)])
            return chunk
        if self._tone is not None:
            return alaw_encode(self._tone.generate(BLOCK_FRAMES))
        if self._source is not None:
            return self._source()
        return None


class DoubleRuntime:
    def __init__(self, board, clock):
        self.board, self.clock = board, clock
        self.bank = Bank(board.nchannels, law="alaw")
        self.bank.set_mask_all(0)
        self.handlers, self.hooks, self.chans = [], [], {}

    def channel(self, n):
        if n not in self.chans:
            self.chans[n] = DoubleChannel(self, n)
        return self.chans[n]

    def add_event_handler(self, fn):
        self.handlers.append(fn)

    def add_tick_hook(self, fn):
        self.hooks.append(fn)

    def tick(self):
        for ev in self.board.events():
            for fn in self.handlers:
                fn(ev)
        rx = self.board.read_block()
        for ev in self.bank.process(rx):
            mc = self.chans.get(ev.channel)
            if mc is not None and mc.on_tone is not None:
                mc.on_tone(ev)
        for fn in self.hooks:
            fn(rx)
        tx = self.board.new_block(SILENCE)
        for n, mc in self.chans.items():
            a = mc._out()
            if a is not None:
                tx[:, n] = a
        self.board.write_block(tx)
