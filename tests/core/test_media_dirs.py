"""File prompts are confined to the media directories: allowed and relative paths play; `..`, symlink and
recordings-directory escapes are refused with 403 naming the path and the allowed directories, through the
Engine and through the CTI server (an ivr client)."""
from __future__ import annotations

import os

import numpy as np
import pytest
from twisted.internet import defer
from twisted.trial import unittest

from ctid.config import ConfigError, parse_config
from ctid.core.engine import Engine
from ctid.core.errors import EngineError
from ctid.core.prompts import MediaDirs, render_local
from ctid.core.trunks.base import UP
from ctid.dsp.g711 import alaw_encode
from ctid.dsp.wavfile import write_wav


# ---------------------------------------------------------------------------------------------- test doubles
class FakeMedia:
    state = "idle"

    def __init__(self):
        self.played = []

    def play(self, codes, barge_in=False, loop=False):
        self.played.append(np.concatenate(codes))
        return defer.succeed({"reason": "done", "digit": None})

    def stop(self):
        pass


class FakeChannel:
    """An answered channel of a trunk (test double for the Engine's TrunkChannel)."""

    def __init__(self, trunk, number):
        self.trunk, self.number = trunk, number
        self.id = f"{trunk.name}/{number}"
        self.state, self.direction, self.kind = UP, "in", "ss7"
        self.calling, self.called = "13800138000", "114"
        self.mc = FakeMedia()
        self._on_answer = self._transfer_from = None

    def info(self):
        return {"channel": self.id, "trunk": self.trunk.name, "kind": self.kind, "state": self.state,
                "direction": self.direction, "calling": self.calling, "called": self.called}

    def hangup(self, cause=16):
        self.state, self.direction = "idle", None


class FakeTrunk:
    name, kind = "t", "ss7"

    def __init__(self):
        self.channels = {1: FakeChannel(self, 1)}


def make_engine(media_dirs, recordings_dir):
    trunk = FakeTrunk()
    from twisted.internet import task
    eng = Engine(task.Clock(), [trunk], recordings_dir=str(recordings_dir), media_dirs=[str(d) for d in media_dirs])
    ch = trunk.channels[1]
    eng._new_call(ch, "in")
    return eng, ch


def write_prompt(path, freq=1000, seconds=0.2):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    n = int(seconds * 8000)
    codes = alaw_encode((np.sin(2 * np.pi * freq * np.arange(n) / 8000) * 6000).astype(np.int16))
    from ctid.dsp.g711 import alaw_decode
    write_wav(str(path), alaw_decode(codes), law="alaw")
    return codes


def result(d):
    box = []
    d.addBoth(box.append)
    assert box, "Deferred did not fire"
    if hasattr(box[0], "value"):
        raise box[0].value
    return box[0]


@pytest.fixture
def tree(tmp_path):
    """data/{prompts,media,recordings} and a secret outside: the daemon's default layout."""
    data = tmp_path / "data"
    t = {"data": data, "prompts": data / "prompts", "media": data / "media", "rec": data / "recordings",
         "outside": tmp_path / "outside"}
    for k in ("prompts", "media", "rec", "outside"):
        t[k].mkdir(parents=True)
    t["menu"] = write_prompt(t["prompts"] / "menu.wav", 800)
    t["music"] = write_prompt(t["media"] / "music.wav", 1000)
    write_prompt(t["rec"] / "voicemail-abc.wav", 440)
    write_prompt(t["outside"] / "secret.wav", 300)
    return t


# ---------------------------------------------------------------------------------------------- the Engine
def test_allowed_absolute_and_relative_paths_play(tree):
    eng, ch = make_engine([tree["prompts"], tree["media"]], tree["rec"])
    assert result(eng.play(ch.id, [{"file": str(tree["media"] / "music.wav")}]))["reason"] == "done"
    assert np.array_equal(ch.mc.played[-1], tree["music"])
    result(eng.play(ch.id, [{"file": "menu.wav"}]))                      # relative to the first media dir
    assert np.array_equal(ch.mc.played[-1], tree["menu"])
    result(eng.play(ch.id, [{"file": "../media/music.wav"}]))            # `..` that stays inside: allowed
    assert np.array_equal(ch.mc.played[-1], tree["music"])
    with pytest.raises(EngineError) as ei:                                # collect's prompts are checked too
        result(eng.collect(ch.id, prompts=[{"file": "menu.wav"}], invalid_prompts=[{"file": "/etc/passwd"}]))
    assert ei.value.code == 403 and "/etc/passwd" in str(ei.value)


@pytest.mark.parametrize("path", ["../../outside/secret.wav", "{outside}/secret.wav", "{media}/../../outside/secret.wav",
                                  "/etc/passwd", "{media}"])
def test_escapes_are_refused_with_403(tree, path):
    eng, ch = make_engine([tree["prompts"], tree["media"]], tree["rec"])
    path = path.format(outside=tree["outside"], media=tree["media"])
    with pytest.raises(EngineError) as ei:
        result(eng.play(ch.id, [{"tone": "beep"}, {"file": path}]))
    assert ei.value.code == 403
    msg = str(ei.value)
    assert repr(path) in msg and str(tree["prompts"]) in msg and str(tree["media"]) in msg
    assert ch.mc.played == []                                              # nothing played, not even the beep


def test_symlink_escapes_are_refused(tree):
    os.symlink(tree["outside"] / "secret.wav", tree["media"] / "innocent.wav")
    os.symlink(tree["outside"], tree["media"] / "sub")
    os.symlink(tree["media"] / "music.wav", tree["media"] / "alias.wav")  # a link that stays inside
    eng, ch = make_engine([tree["media"]], tree["rec"])
    for p in ("innocent.wav", "sub/secret.wav", str(tree["media"] / "sub" / "secret.wav")):
        with pytest.raises(EngineError, match="is not in a media directory") as ei:
            result(eng.play(ch.id, [{"file": p}]))
        assert ei.value.code == 403 and f"resolved to {tree['outside']}" in str(ei.value)
    result(eng.play(ch.id, [{"file": "alias.wav"}]))
    assert np.array_equal(ch.mc.played[-1], tree["music"])


def test_recordings_are_not_playable_unless_configured(tree):
    rec = str(tree["rec"] / "voicemail-abc.wav")
    eng, ch = make_engine([tree["data"]], tree["rec"])                     # data_dir holds recordings_dir
    with pytest.raises(EngineError) as ei:
        result(eng.play(ch.id, [{"file": rec}]))
    assert ei.value.code == 403 and "voicemail-abc.wav" in str(ei.value)
    result(eng.play(ch.id, [{"file": "media/music.wav"}]))                 # the rest of data_dir: allowed
    eng, ch = make_engine([tree["media"], tree["rec"]], tree["rec"])       # recordings listed explicitly
    result(eng.play(ch.id, [{"file": rec}]))
    assert len(ch.mc.played) == 1


def test_no_media_dirs_means_no_file_prompts(tree):
    eng, ch = make_engine([], tree["rec"])
    with pytest.raises(EngineError, match="file prompts are disabled.*media_dirs") as ei:
        result(eng.play(ch.id, [{"file": str(tree["media"] / "music.wav")}]))
    assert ei.value.code == 403
    with pytest.raises(EngineError, match="403|disabled"):
        render_local({"file": str(tree["media"] / "music.wav")})            # no MediaDirs given: refused too
    assert len(render_local({"tone": "beep"})) == 2400


def test_missing_file_inside_is_400_not_403(tree):
    media = MediaDirs([tree["media"]])
    with pytest.raises(EngineError) as ei:
        render_local({"file": "nope.wav"}, media)
    assert ei.value.code == 400


# ---------------------------------------------------------------------------------------------- configuration
def test_config_media_dirs():
    cfg = parse_config('[daemon]\ndata_dir = "/srv/ctid"\n')
    assert cfg.daemon.media_dirs == ["/srv/ctid/prompts", "/srv/ctid/media"]
    cfg = parse_config('[daemon]\ndata_dir = "/d"\nmedia_dirs = ["{data_dir}/sounds", "/usr/share/ctid"]\n'
                       '[tts]\nprompts_dir = "/p"\n')
    assert cfg.daemon.media_dirs == ["/d/sounds", "/usr/share/ctid"]
    assert parse_config('[daemon]\nmedia_dirs = []\n').daemon.media_dirs == []
    with pytest.raises(ConfigError, match=r"daemon.media_dirs\[1\]: 3 is not a directory path"):
        parse_config('[daemon]\nmedia_dirs = ["/a", 3]\n')
    q = '[daemon]\ndata_dir = "/d"\n[[queues]]\nname = "q"\nhold = {{ file = "{f}" }}\n'
    assert parse_config(q.format(f="music.wav")).queues[0].hold == {"file": "music.wav"}
    assert parse_config(q.format(f="{data_dir}/media/m.wav")).queues[0].hold == {"file": "/d/media/m.wav"}
    with pytest.raises(ConfigError, match="queues.q.hold.file: '/d/recordings/x.wav' is not in a media directory"):
        parse_config(q.format(f="{data_dir}/recordings/x.wav"))


# ---------------------------------------------------------------------------------------------- through CTI
class _Principal:
    def __init__(self, user, roles):
        self.user, self.roles, self.agent = user, frozenset(roles), None


class _Users:
    """authenticate() like ctid.db.users.UserStore (test double)."""

    def authenticate(self, user, password):
        return _Principal(user, {"ivr"}) if (user, password) == ("ivr", "ivr-pw") else None

    def authenticate_token(self, token):
        return None


class CtiFilePrompts(unittest.TestCase):
    @defer.inlineCallbacks
    def test_ivr_client_gets_403_for_a_file_outside(self):
        from twisted.internet import reactor

        from ctid.cti import CtiServer
        from libcti import connect
        from libcti.client import CtiError

        import shutil
        import tempfile
        base = tempfile.mkdtemp(prefix="ctid-media-dirs-")
        self.addCleanup(shutil.rmtree, base, True)
        media, rec, outside = (os.path.join(base, d) for d in ("media", "recordings", "outside"))
        write_prompt(os.path.join(media, "hello.wav"))
        write_prompt(os.path.join(rec, "voicemail-1.wav"))
        write_prompt(os.path.join(outside, "secret.wav"))
        eng, ch = make_engine([media], rec)
        server = CtiServer(eng, _Users(), clock=reactor)
        [port] = yield server.listen(reactor, ["tcp:0:interface=127.0.0.1"])
        self.addCleanup(port.stopListening)
        self.addCleanup(server.close_all)
        client = yield defer.ensureDeferred(connect(f"tcp:127.0.0.1:{port.getHost().port}", user="ivr",
                                                    password="ivr-pw", reactor=reactor))
        self.addCleanup(client.close)
        for path in (os.path.join(outside, "secret.wav"), os.path.join(rec, "voicemail-1.wav"), "../outside/secret.wav",
                     "/etc/passwd"):
            try:
                yield client.request("play", channel=ch.id, prompts=[{"file": path}])
            except CtiError as exc:
                self.assertEqual(exc.code, 403, str(exc))
                self.assertEqual(exc.name, "forbidden")
                self.assertIn(path, exc.message)
                self.assertIn(os.path.realpath(media), exc.message)
            else:
                self.fail(f"play {path} was not refused")
        r = yield client.request("play", channel=ch.id, prompts=[{"file": "hello.wav"}])
        self.assertEqual(r["reason"], "done")
        self.assertEqual(len(ch.mc.played), 1)
