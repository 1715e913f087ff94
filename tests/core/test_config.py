"""ctid.config: the embedded default, every section, and errors that name the key and the bad value."""
from __future__ import annotations

import pytest

from ctid.config import ConfigError, default_config, load_config, parse_config, parse_ranges

BASE = """
[daemon]
data_dir = "/srv/ctid"
[[boards]]
id = 0
spans = 2
ports = ["fxo", "fxs"]
"""


def test_default_config():
    cfg = default_config()
    (b,) = cfg.boards
    assert (b.driver, b.id, b.spans, b.ports) == ("hwsim", 0, 2, ["fxo", "fxo", "fxs", "fxs"])
    kinds = {t.name: t.signalling for t in cfg.trunks}
    assert kinds == {"ss7": "ss7", "no1": "china1", "analog": "analog"}
    ss7 = cfg.trunk("ss7")
    assert ss7.cics == list(range(1, 16)) + list(range(17, 32)) and (ss7.opc, ss7.dpc) == (0x2A51, 0x0123)
    assert cfg.trunk("no1").direction == "both" and len(cfg.trunk("no1").timeslots) == 30
    assert cfg.daemon.database == "sqlite:///./ctid-data/ctid.db"
    assert cfg.tts.cache_dir == "./ctid-data/tts"
    assert cfg.route("114").flow == "hospital_main" and cfg.route("999").flow == "hospital_main"
    assert [q.name for q in cfg.queues] == ["frontdesk", "cardiology"]
    assert cfg.span_signalling(0) == {0: "ccs", 1: "cas"}
    assert cfg.trunk("no1").number_lengths == {"114": 3}      # from the exact route
    assert load_config(None).trunks == cfg.trunks


def test_full_file(tmp_path):
    text = BASE.replace('data_dir = "/srv/ctid"', 'data_dir = "/srv/ctid"\ndatabase = "postgresql+psycopg://ctid@localhost/ctid"') + """
[cti]
listen = ["tcp:7000:interface=127.0.0.1", "ssl:7001:privateKey=k.pem:certKey=c.pem"]
[[boards]]
id = 1
spans = 1
options = { cable_socket = { 0 = "{data_dir}/e1.0" } }
[[trunks]]
name = "ss7"
board = 0
span = 0
signalling = "ss7"
variant = "china"
opc = 0x0A0B0C
dpc = 0x010203
cics = "1-5,17"
[[trunks]]
name = "no1"
board = 1
span = 0
signalling = "china1"
timeslots = "1-10"
incoming = "1-5"
outgoing = [6, 7, "8-10"]
number_length = 5
number_lengths = { "0" = 11, "95" = 5 }
[[trunks]]
name = "analog"
board = 0
signalling = "analog"
ports = [0, 1]
[[routes]]
called = "114"
flow = "hospital_main"
[[routes]]
called = "11*"
flow = "other"
[[queues]]
name = "frontdesk"
agents = ["1001"]
offer_timeout = 5
wrap_up = 0
hold = { tone = "ringback" }
[tts]
cache_dir = "{data_dir}/cache"
[[users]]
name = "ivr"
password = "pw"
roles = ["ivr"]
"""
    p = tmp_path / "c.toml"
    p.write_text(text)
    cfg = load_config(str(p))
    assert cfg.daemon.database.startswith("postgresql+psycopg://")
    assert cfg.cti.listen[1].startswith("ssl:7001")
    assert cfg.board(1).options["cable_socket"] == {0: "/srv/ctid/e1.0"}
    ss7 = cfg.trunk("ss7")
    assert ss7.variant == "china" and ss7.cics == [1, 2, 3, 4, 5, 17]
    no1 = cfg.trunk("no1")
    assert no1.incoming == [1, 2, 3, 4, 5] and no1.outgoing == [6, 7, 8, 9, 10] and no1.number_length == 5
    assert no1.number_lengths == {"0": 11, "95": 5, "114": 3}
    assert no1.dual_seizure == "back_off"                         # the default
    assert cfg.route("114").flow == "hospital_main" and cfg.route("119").flow == "other"
    assert cfg.route("120") is None
    q = cfg.queues[0]
    assert (q.offer_timeout, q.wrap_up) == (5.0, 0.0)
    assert cfg.tts.cache_dir == "/srv/ctid/cache"
    assert cfg.users[0].roles == ["ivr"]
    assert cfg.span_signalling(0) == {0: "ccs"} and cfg.span_signalling(1) == {0: "cas"}


@pytest.mark.parametrize("extra, message", [
    ('[[trunks]]\nname="x"\nboard=0\nspan=7\nsignalling="china1"\n',
     "trunks[0].span: 7 is not a span of board 0 (2 spans)"),
    ('[[trunks]]\nname="x"\nboard=3\nsignalling="analog"\nports=[0]\n',
     "trunks[0].board: 3 is not a configured board (boards: 0)"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=0\nsignalling="isdn"\n',
     "trunks[0].signalling: 'isdn' is not one of 'ss7', 'china1', 'analog'"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=0\nsignalling="ss7"\nopc=1\ndpc=2\ncics="1-16"\n',
     "trunks[0].cics: 16 is not allowed here (bearer timeslots are 1-15 and 17-31)"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=0\nsignalling="ss7"\nopc=1\ndpc=2\ncics="5-3"\n',
     "trunks[0].cics: range '5-3' runs backwards"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=0\nsignalling="ss7"\nopc=0x4000\ndpc=2\n',
     "trunks[0].opc: 16384 is out of range for itu point codes (0..0x3fff)"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=0\nsignalling="ss7"\ndpc=2\n', "trunks[0].opc: missing (required)"),
    ('[[trunks]]\nname="x"\nboard=0\nsignalling="analog"\nports=[0, 5]\n',
     "trunks[0].ports[1]: 5 is not a port of board 0 (2 ports)"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=1\nsignalling="china1"\ntimeslots="1-5"\nincoming="4-6"\n',
     "trunks[0].incoming: 6 is not allowed here (allowed: 1-5)"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=1\nsignalling="china1"\ndirection="sideways"\n',
     "trunks[0].direction: 'sideways' is not one of 'incoming', 'outgoing', 'both'"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=1\nsignalling="china1"\ndual_seizure="fight"\n',
     "trunks[0].dual_seizure: 'fight' is not one of 'back_off', 'keep', 'yield'"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=1\nsignalling="china1"\nspeed=3\n', "trunks[0].speed: unknown key (value 3)"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=1\nsignalling="china1"\n[[trunks]]\nname="x"\nboard=0\nspan=0\n'
     'signalling="china1"\n', "trunks[1].name: 'x' is used by another trunk"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=1\nsignalling="china1"\n[[trunks]]\nname="y"\nboard=0\nspan=1\n'
     'signalling="china1"\n', "trunks[1].span: span 1 of board 0 is already trunk 'x'"),
    ('[[trunks]]\nname="x"\nboard=0\nspan=1\nsignalling="china1"\nnumber_lengths={"95"=1}\n',
     "trunks[0].number_lengths.95: 1 is not a length of 2..20 digits"),
    ('[[routes]]\ncalled="11a"\nflow="f"\n', "routes[0].called: '11a' must be digits, optionally ending in '*'"),
    ('[[queues]]\nname="q"\noffer_timeout=0\n', "queues[0].offer_timeout: 0 must be greater than 0"),
    ('[[queues]]\nname="q"\nhold={tone="busy", file="x.wav"}\n', "queues[0].hold: "),
    ('[cti]\nlisten=["http://x"]\n', "cti.listen[0]: 'http://x' is not a Twisted server endpoint string"),
    ('[ivr]\nmode="cloud"\n', "ivr.mode: 'cloud' is not one of 'in-daemon', 'external'"),
    ('[[boards]]\nid=0\nspans=1\n', "boards[1].id: 0 is used by another board"),
    ('[[boards]]\nid=1\nspans=1\nports=["pots"]\n', "boards[1].ports[0]: 'pots' is not 'fxs' or 'fxo'"),
    ('[[boards]]\nid=1\nspans=1\noptions={cable_socket={3="/x"}}\n',
     "boards[1].options.cable_socket.3: '3' is not a span of board 1 (1 spans)"),
    ('[extra]\nx=1\n', "extra: unknown key"),
    ('[[users]]\nname="a"\npassword="p"\nroles=["god"]\n', "users[0].roles[0]: 'god' is not admin"),
    ('[daemon]\n', "not valid TOML"),   # a second [daemon] table
])
def test_errors_name_key_and_value(extra, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(BASE + extra)
    assert message in str(exc.value)


def test_bad_types():
    with pytest.raises(ConfigError, match=r"boards\[0\].spans: 'two' is not an integer"):
        parse_config('[[boards]]\nid=0\nspans="two"\n')
    with pytest.raises(ConfigError, match=r"boards\[0\].id: true is not an integer|boards\[0\].id: True is not"):
        parse_config('[[boards]]\nid=true\nspans=1\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[[boards]\n")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file .*nope.toml: No such file"):
        load_config(str(tmp_path / "nope.toml"))


def test_ranges():
    assert parse_ranges("1-15,17-31", "k") == list(range(1, 16)) + list(range(17, 32))
    assert parse_ranges("3", "k") == [3] and parse_ranges([1, "4-5"], "k") == [1, 4, 5]
    with pytest.raises(ConfigError, match="k: '1-3,2' names a number twice"):
        parse_ranges("1-3,2", "k")
    with pytest.raises(ConfigError, match="k: 'x' is not a number or a range"):
        parse_ranges("x", "k")


def test_command_line(tmp_path, capsys):
    from ctid.config import main
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "trunk ss7: SS7 itu opc 0x2a51 dpc 0x123 CICs 1-15,17-31 on board 0 span 0" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[boards]]\nid=0\nspans=1\n[[trunks]]\nname="x"\nboard=0\nspan=3\nsignalling="ss7"\n')
    assert main([str(bad)]) == 1
    assert "trunks[0].span: 3 is not a span of board 0 (1 spans)" in capsys.readouterr().err
