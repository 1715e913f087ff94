"""libcti's receive path: JSON decoding (orjson when installed) gives exactly json.loads' results; the line
splitter and the connection deliver every frame of any split of the byte stream, in order, framing switch
included."""
from __future__ import annotations

import json
import math
import unittest

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import task
from twisted.internet.testing import StringTransport

from libcti import _json
from libcti.client import Client, Event, _Connection
from libcti.framing import FramingError, LineReader


def canon(v):
    """A comparable form that tells int from float, -0.0 from 0.0 and keeps NaN equal to itself."""
    if isinstance(v, bool) or v is None:
        return (type(v).__name__, v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("float", "nan" if math.isnan(v) else v.hex())
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, list):
        return ("list", [canon(x) for x in v])
    if isinstance(v, dict):
        return ("dict", [(k, canon(x)) for k, x in v.items()])
    raise TypeError(type(v))


def outcome(fn, raw):
    try:
        return ("ok", canon(fn(raw)))
    except UnicodeDecodeError:
        return ("error", "unicode")
    except ValueError:
        return ("error", "value")


def same_as_json(raw: bytes):
    return outcome(_json.loads, raw), outcome(json.loads, raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-2 ** 200, max_value=2 ** 200)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20)


class JsonLikeTheStandardLibrary(unittest.TestCase):
    def test_backend_is_reported(self):
        self.assertIn(_json.BACKEND, ("orjson", "json"))

    def test_without_orjson_the_standard_library_decodes(self):
        import importlib.util
        import sys
        saved = sys.modules.get("orjson")
        sys.modules["orjson"] = None          # import orjson -> ImportError
        try:
            spec = importlib.util.spec_from_file_location("libcti_json_plain", _json.__file__)
            plain = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(plain)
        finally:
            if saved is None:
                del sys.modules["orjson"]
            else:
                sys.modules["orjson"] = saved
        self.assertEqual(plain.BACKEND, "json")
        self.assertIs(plain.loads, json.loads)

    def test_edge_cases(self):
        cases = [
            b'{"n":123456789012345678901234567890}', b'{"n":-123456789012345678901234567890}',
            b'9223372036854775807', b'-9223372036854775808', b'9223372036854775808', b'-9223372036854775809',
            b'18446744073709551615', b'18446744073709551616', b'999999999999999999', b'1000000000000000000',
            b'"12345678901234567890"', b'[1.5e300, 1e400, -1e400, 5e-324, 1e-400, 0.1, -0.0, -0]',
            b'NaN', b'[Infinity, -Infinity]', b'"\\ud800"', b'{"k\\udfff":"\\ud83d\\ude00"}',
            '{"name":"张医生","dept":"心内科"}'.encode(), b'"\\u5f20"', b'"\\u0000"',
            '{"a":"é"}'.encode("utf-16"), '{"a":"é"}'.encode("utf-8-sig"), '{"a":1}'.encode("utf-32-le"),
            b'\xff\xfe\x00', b'"\xc3\x28"', b'{"a":1,"a":2}', b'[1,]', b'{"a" 1}', b'', b' ', b'tru', b'{}\r',
            b' {"x": [1, 2, {"y": null}]} ', b'[' * 3000 + b']' * 3000, b'1' * 5000,
        ]
        for raw in cases:
            with self.subTest(raw=raw[:40]):
                try:
                    mine, ref = same_as_json(raw)
                except RecursionError:      # json itself recurses too deep on 3000 levels: so must we
                    with self.assertRaises(RecursionError):
                        json.loads(raw)
                    continue
                self.assertEqual(mine, ref)

    @settings(max_examples=300, deadline=None)
    @given(json_values, st.booleans())
    def test_any_document(self, value, ascii_only):
        try:
            text = json.dumps(value, ensure_ascii=ascii_only)
            raw = text.encode("utf-8")
        except UnicodeEncodeError:         # lone surrogates: only as \u escapes
            raw = json.dumps(value).encode("ascii")
        mine, ref = same_as_json(raw)
        self.assertEqual(mine, ref)
        self.assertEqual(mine, ("ok", canon(json.loads(raw))))

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=40))
    def test_any_bytes(self, raw):
        mine, ref = same_as_json(raw)
        self.assertEqual(mine, ref)


class LineSplitting(unittest.TestCase):
    def test_split_keeps_partial_lines_and_skips_blank_ones(self):
        r = LineReader()
        self.assertEqual(r.split(b'{"a":1}\n{"b"'), [b'{"a":1}'])
        self.assertEqual(r.split(b':2}'), [])
        self.assertEqual(r.split(b'\n\n  \n{"c":3}\n{"d":4}\n'), [b'{"b":2}', b'{"c":3}', b'{"d":4}'])
        self.assertEqual(r.split(b''), [])
        self.assertEqual(bytes(r.buf), b'')

    def test_split_refuses_an_endless_line(self):
        r = LineReader(max_frame=10)
        self.assertEqual(r.split(b'x' * 10), [])
        with self.assertRaises(FramingError):
            r.split(b'y')

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b and b.strip()),
                    max_size=20),
           st.lists(st.integers(min_value=0, max_value=400), max_size=10))
    def test_split_equals_next_frame_for_any_chunking(self, lines, cuts):
        stream = b"".join(line + b"\n" for line in lines)
        points = sorted({min(c, len(stream)) for c in cuts}) + [len(stream)]
        fast, slow = LineReader(), LineReader()
        got_fast, got_slow, prev = [], [], 0
        for p in points:
            chunk, prev = stream[prev:p], p
            got_fast += fast.split(chunk)
            slow.feed(chunk)
            while (f := slow.next_frame()) is not None:
                got_slow.append(f)
        self.assertEqual(got_fast, lines)
        self.assertEqual(got_slow, lines)


def connection():
    clock = task.Clock()
    client = Client("tcp:127.0.0.1:1", user="u", password="p", reactor=clock, clock=clock, reconnect=False)
    conn = _Connection(client)
    conn.makeConnection(StringTransport())
    client._conn = conn
    return client, conn


def event_frame(seq, data):
    return json.dumps({"type": "event", "seq": seq, "event": "channel.dtmf", "data": data},
                      ensure_ascii=False).encode() + b"\n"


class ConnectionDelivery(unittest.TestCase):
    def test_events_in_any_chunking_arrive_in_order_as_typed_events(self):
        datas = [{"channel": "ss7/1", "digit": d, "n": i, "big": 2 ** 70 + i, "who": "张三"}
                 for i, d in enumerate("0123456789*#")]
        stream = b"".join(event_frame(i + 1, d) for i, d in enumerate(datas))
        for size in (1, 7, 50, len(stream)):
            client, conn = connection()
            got = []
            client.on("channel.*", got.append)
            for i in range(0, len(stream), size):
                conn.dataReceived(stream[i:i + size])
            self.assertEqual(got, [Event("channel.dtmf", d, i + 1) for i, d in enumerate(datas)])
            self.assertEqual(client.last_seq, len(datas))
            self.assertIsInstance(got[0].data["big"], int)

    def test_hello_then_switch_to_length_framing_within_one_read(self):
        client, conn = connection()
        hello = []
        conn.hello.addCallback(hello.append)
        responses = []
        client._pending[1] = (type("D", (), {"callback": responses.append, "called": False})(), conn)
        conn.switch_after = 1
        body = json.dumps({"type": "event", "seq": 1, "event": "agent.state", "data": {"agent": "1001"}}).encode()
        got = []
        client.on("*", got.append)
        conn.dataReceived(b'{"type":"hello","protocol":"ctid-cti/1"}\n'
                          b'{"type":"response","id":1,"ok":true,"result":{"framing":"length"}}\n'
                          + len(body).to_bytes(4, "big") + body[:10])
        self.assertEqual(hello[0]["protocol"], "ctid-cti/1")
        self.assertEqual(responses, [{"framing": "length"}])
        self.assertEqual(conn.reader.framing, "length")
        conn.dataReceived(body[10:])
        self.assertEqual(got, [Event("agent.state", {"agent": "1001"}, 1)])

    def test_bad_frames_are_skipped(self):
        client, conn = connection()
        got = []
        client.on("*", got.append)
        conn.dataReceived(b'not json\n[1,2]\n"str"\n\xff\xfe\n' + event_frame(1, {"n": 1}))
        self.assertEqual(got, [Event("channel.dtmf", {"n": 1}, 1)])

    def test_handlers_run_in_order_whatever_they_return_or_raise(self):
        from twisted.internet import defer
        from twisted.logger import globalLogPublisher
        logged = []
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        client, conn = connection()
        calls = []

        def boom(ev):
            calls.append(("boom", ev.seq))
            raise RuntimeError("handler bug")

        def failing_deferred(ev):
            calls.append(("deferred", ev.seq))
            return defer.fail(RuntimeError("async handler bug"))

        async def coroutine(ev):
            calls.append(("async", ev.seq))

        client.on("channel.*", boom)
        client.on("*", failing_deferred)
        client.on("channel.dtmf", coroutine)
        conn.dataReceived(event_frame(1, {"n": 1}) + event_frame(2, {"n": 2}))    # first: builds the cache
        conn.dataReceived(event_frame(3, {"n": 3}))                               # then: the cached path
        self.assertEqual(calls, [(kind, seq) for seq in (1, 2, 3) for kind in ("boom", "deferred", "async")])
        failures = [e for e in logged if e.get("log_failure") is not None]
        self.assertEqual(len(failures), 6)
        for e in failures:
            e["log_failure"].trap(RuntimeError)
