"""The batched bank API: arguments are checked, nothing overflows, state survives bad calls."""
import numpy as np
import pytest

from ctid.dsp import Bank, DspError
from ctid.dsp._native import ffi, lib


def test_bad_construction():
    with pytest.raises(DspError, match="channel count"):
        Bank(0)
    with pytest.raises(DspError, match="unknown law"):
        Bank(4, law="gsm")
    assert lib.ctid_bank_new(-1, lib.CTID_LAW_ALAW) == ffi.NULL
    assert lib.ctid_bank_new(4, 99) == ffi.NULL


@pytest.mark.parametrize("nchan, law, size", [(32, "alaw", 31), (32, "alaw", 5121), (3, "linear", 3), (3, "linear", 7)])
def test_partial_frames_are_rejected_and_change_nothing(nchan, law, size):
    bank = Bank(nchan, law=law)
    bank.set_mask_all("dtmf")
    with pytest.raises(DspError, match="whole number"):
        bank.process(bytes(size))
    assert bank.time == 0
    # The native entry point says the same to a caller that skips the Python check.
    assert lib.ctid_bank_process(bank._b, ffi.from_buffer("uint8_t[]", bytes(size)), size) == lib.CTID_ERR_SIZE


def test_wrong_dtype_arrays():
    with pytest.raises(DspError, match="needs uint8"):
        Bank(2).process(np.zeros(320, dtype=np.int16))
    with pytest.raises(DspError, match="needs int16"):
        Bank(2, law="linear").process(np.zeros(320, dtype=np.uint8))


def test_masks_and_channels():
    bank = Bank(30)
    bank.set_mask(29, "dtmf,cpt")
    assert bank.get_mask(29) == lib.CTID_DET_DTMF | lib.CTID_DET_CPT
    with pytest.raises(DspError, match="channel 30: channel out of range"):
        bank.set_mask(30, "dtmf")
    with pytest.raises(DspError, match="channel -1"):
        bank.set_mask(-1, "dtmf")
    with pytest.raises(DspError, match="unknown detector 'fax'"):
        bank.set_mask(0, "dtmf,fax")
    assert lib.ctid_bank_set_mask(bank._b, 0, 1 << 10) == lib.CTID_ERR_ARG
    assert lib.ctid_bank_events(bank._b, ffi.NULL, 5) == lib.CTID_ERR_ARG
    assert lib.ctid_bank_cid_message(bank._b, 99, ffi.new("uint8_t[4]"), 4) == lib.CTID_ERR_CHANNEL


def test_time_advances_by_frames_for_any_tick_size():
    bank = Bank(5)
    bank.set_mask_all("dtmf,r2f,r2b,cpt,cid")
    for n in (1, 7, 160, 161, 1000, 0):
        bank.process(bytes([0xD5]) * (5 * n))
    assert bank.time == 1 + 7 + 160 + 161 + 1000


def test_tone_table_errors():
    from ctid.dsp.tones import ToneDef

    with pytest.raises(ValueError, match="on/off pairs"):
        ToneDef("x", 450, cadence_ms=(100,))
    with pytest.raises(ValueError, match="100..3800"):
        ToneDef("x", 5000, detect_ms=100)
    with pytest.raises(ValueError, match="at most 32"):
        Bank(1, tones=[ToneDef(f"t{i}", 450, detect_ms=100) for i in range(33)])


def test_two_caller_id_messages_in_one_call_keep_their_own_bytes():
    """A large block can complete two messages on one lane; each event must still decode to its own message."""
    from ctid.dsp.callerid import cid_signal
    from ctid.dsp.g711 import alaw_encode

    gap = np.zeros(4000, dtype=np.int16)
    sig = np.concatenate([gap, cid_signal("111222333", name="FIRST", time="01020304"), gap,
                          cid_signal("444555666", name="SECOND", time="05060708"), gap])
    bank = Bank(1)
    bank.set_mask(0, "cid")
    events = bank.process(alaw_encode(sig))           # the whole signal in one call
    got = [(e.value["number"], e.value["name"]) for e in events if e.kind == "cid"]
    assert got == [("111222333", "FIRST"), ("444555666", "SECOND")]
    assert bank.cid_bad_messages(0) == 0


def test_corrupted_caller_id_is_counted_through_the_bank():
    from ctid.dsp.callerid import build_message, fsk_generate
    from ctid.dsp.g711 import alaw_encode

    msg = bytearray(build_message(number="13800138000", time="11231420"))
    msg[5] ^= 0x01                                   # a wrong digit: the checksum no longer matches
    bank = Bank(2)
    bank.set_mask(1, "cid")
    mono = np.concatenate([np.zeros(800, np.int16), fsk_generate(bytes(msg)), np.zeros(800, np.int16)])
    frames = np.zeros((len(mono), 2), dtype=np.int16)
    frames[:, 1] = mono
    events = []
    codes = alaw_encode(frames.ravel()).reshape(-1, 2)
    for i in range(0, len(codes), 160):
        events += bank.process(codes[i:i + 160])
    assert [e for e in events if e.kind == "cid"] == []
    assert bank.cid_bad_messages(1) == 1 and bank.cid_bad_messages(0) == 0
    with pytest.raises(DspError, match="channel 7"):
        bank.cid_bad_messages(7)
    with pytest.raises(DspError, match="message 5"):
        bank.message(5)


def test_fast_path_events_array_matches_event_objects_and_drains_past_capacity():
    """process_raw + events_array (the daemon's fast path) gives the same events as process(), including when
    one call queues more events than the drain buffer holds."""
    from ctid.dsp.dtmf import generate
    from ctid.dsp.g711 import alaw_encode

    digits = "0123456789*#ABCD" * 20                     # 320 digits: 640 events > the 256-event buffer
    codes = alaw_encode(generate(digits, on_ms=50, off_ms=50))
    slow = Bank(1)
    slow.set_mask(0, "dtmf")
    objs = slow.process(codes)
    fast = Bank(1)
    fast.set_mask(0, "dtmf")
    assert fast.process_raw(codes) == len(objs) == 2 * len(digits)
    arr = fast.events_array()
    assert len(arr) == len(objs) and len(fast.events_array()) == 0
    assert [chr(v) for v, ty in zip(arr["value"], arr["type"]) if ty == 1] == list(digits)
    assert list(arr["t_sample"]) == [e.t for e in objs]
    # a 2-D frame-major array goes through as its bytes, not its rows
    two = Bank(2)
    two.set_mask_all("dtmf")
    assert two.process_raw(np.stack([codes, codes], axis=1)) == 2 * len(objs)
