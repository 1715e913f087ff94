"""The daemon's data ops (ctid.dataops) on the real CTI server over a real SQLite database with the demo
hospital: who may file, list and close complaints (401/403), recordings checked, errors with codes."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile

from twisted.internet import defer
from twisted.trial import unittest

from cti_helpers import ServerMixin, error_code

from ctid.dataops import register_data_ops
from ctid.db import open_database
from ctid.db.demo import load_demo

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 9, 30)
REC = "0123456789ab"


class DataOpsCase(ServerMixin, unittest.TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        yield self.start_server()
        base = tempfile.mkdtemp(prefix="ctid-dataops-")
        self.addCleanup(shutil.rmtree, base, True)
        self.db = open_database(f"sqlite:///{base}/ctid.db")
        self.addCleanup(self.db.close)
        load_demo(self.db, today=TODAY)
        self.recordings = os.path.join(base, "recordings")
        os.makedirs(self.recordings)
        register_data_ops(self.server, self.db, recordings_dir=self.recordings, now=lambda: NOW)

    def recording(self, purpose, call, rec=REC):
        path = os.path.join(self.recordings, f"{purpose}-{call}-{rec}.wav")
        with open(path, "wb") as f:
            f.write(b"RIFF")
        return os.path.basename(path)


class Complaints(DataOpsCase):
    @defer.inlineCallbacks
    def test_ivr_files_with_the_channel_and_the_desk_lists_and_closes(self):
        ivr = yield self.client("ivr", "ivr-pw")
        self.engine.incoming("ss7/1", "c1", calling="13800138000")
        name = self.recording("complaint", "c1")
        r = yield ivr.request("complaint.file", recording=REC, channel="ss7/1")
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["result"]["tracking"], "261123001")
        self.assertEqual(set(r["result"]), {"tracking", "filed"})          # nothing else back to the IVR
        # by calling number (no channel): the recording is found by its id
        self.recording("complaint", "c2", "bbbbbbbbbbbb")
        r = yield ivr.request("complaint.file", recording="bbbbbbbbbbbb", calling="13912345678",
                              department="cardiology")
        self.assertEqual(r["result"]["tracking"], "261123002")
        # the IVR may file but not list or close
        r = yield ivr.request("complaint.list")
        self.assertEqual(error_code(r), 403)
        r = yield ivr.request("complaint.close", tracking="261123001")
        self.assertEqual(error_code(r), 403)
        # agents and monitors may do none of it
        for user, pw in (("1001", "a1-pw"), ("wall", "wall-pw")):
            c = yield self.client(user, pw)
            for op, args in (("complaint.list", {}), ("complaint.close", {"tracking": "261123001"}),
                             ("complaint.file", {"recording": REC, "calling": "1"})):
                r = yield c.request(op, **args)
                self.assertEqual(error_code(r), 403, (user, op))
        # the supervisor sees both with their recordings, and closes one
        sup = yield self.client("sup", "sup-pw")
        r = yield sup.request("complaint.list")
        got = r["result"]["complaints"]
        self.assertEqual([(c["tracking"], c["calling"], c["recording"], c["status"], c["call"], c["department"])
                          for c in got],
                         [("261123002", "13912345678", "complaint-c2-bbbbbbbbbbbb.wav", "open", None, "cardiology"),
                          ("261123001", "13800138000", name, "open", "c1", None)])
        r = yield sup.request("complaint.close", tracking="261123001", note="called back")
        self.assertEqual((r["result"]["complaint"]["status"], r["result"]["complaint"]["closed_by"]),
                         ("closed", "sup"))
        r = yield sup.request("complaint.close", tracking="261123001")
        self.assertEqual(error_code(r), 409)
        r = yield sup.request("complaint.close", tracking="999")
        self.assertEqual(error_code(r), 404)
        admin = yield self.client("admin", "admin-pw")
        r = yield admin.request("complaint.list", status="open")
        self.assertEqual([c["tracking"] for c in r["result"]["complaints"]], ["261123002"])
        r = yield admin.request("complaint.list", status="pending")
        self.assertEqual(error_code(r), 400)

    @defer.inlineCallbacks
    def test_unauthenticated_and_bad_requests(self):
        anon = yield self.client()
        r = yield anon.request("complaint.file", recording=REC, calling="13800138000")
        self.assertEqual(error_code(r), 401)
        r = yield anon.request("complaint.list")
        self.assertEqual(error_code(r), 401)
        ivr = yield self.client("ivr", "ivr-pw")
        self.engine.incoming("ss7/1", "c1")
        self.recording("complaint", "c1")
        self.recording("voicemail", "c1", "cccccccccccc")
        cases = [
            ({"recording": REC}, 400, "give 'channel'"),
            ({"recording": "../../etc/passwd", "calling": "1"}, 400, "12-hex-digit id"),
            ({"recording": "aaaaaaaaaaaa", "channel": "ss7/1"}, 404, "no complaint recording aaaaaaaaaaaa of call c1"),
            ({"recording": "cccccccccccc", "channel": "ss7/1"}, 404, "no complaint recording"),   # a voicemail
            ({"recording": REC, "channel": "ss7/2"}, 409, "has no call"),
            ({"recording": REC, "channel": "ss7/99"}, 404, "no channel"),
            ({"recording": REC, "channel": "ss7/1", "department": "nowhere"}, 404, "no department 'nowhere'"),
            ({"recording": REC, "calling": 13800138000}, 400, "must be a string"),
        ]
        for args, code, text in cases:
            r = yield ivr.request("complaint.file", **args)
            self.assertEqual(error_code(r), code, args)
            self.assertIn(text, r["error"]["message"], args)
        # another call's recording cannot be filed under this channel's call
        self.engine.incoming("ss7/2", "c2")
        r = yield ivr.request("complaint.file", recording=REC, channel="ss7/2")
        self.assertEqual(error_code(r), 404)
        sup = yield self.client("sup", "sup-pw")
        r = yield sup.request("complaint.list")
        self.assertEqual(r["result"]["complaints"], [])


class HospitalInformation(DataOpsCase):
    @defer.inlineCallbacks
    def test_departments_clinics_and_a_bad_date(self):
        agent = yield self.client("1001", "a1-pw")
        r = yield agent.request("hospital.departments")
        self.assertEqual(r["result"]["departments"][0]["name_zh"], "心内科")
        r = yield agent.request("hospital.clinics")
        self.assertEqual(r["result"]["date"], "2026-11-23")
        self.assertTrue(r["result"]["clinics"])
        r = yield agent.request("hospital.clinics", date="23/11/2026")
        self.assertEqual(error_code(r), 400)
        self.assertIn("bad date", r["error"]["message"])
        mon = yield self.client("wall", "wall-pw")
        r = yield mon.request("hospital.departments")
        self.assertEqual(error_code(r), 403)


class Appointments(DataOpsCase):
    @defer.inlineCallbacks
    def test_ivr_identifies_lists_books_and_the_desk_lists(self):
        ivr = yield self.client("ivr", "ivr-pw")
        r = yield ivr.request("patient.card", card="20240001")
        self.assertEqual(r["result"], {"card": "C20240001"})
        r = yield ivr.request("patient.card", card="11112222")
        self.assertEqual(r["result"], {"card": None})
        r = yield ivr.request("patient.card", card="2024x")
        self.assertEqual(error_code(r), 400)
        r = yield ivr.request("hospital.free_clinics", department="cardiology", limit=3)
        clinics = r["result"]["clinics"]
        self.assertTrue(0 < len(clinics) <= 3 and all(c["free"] > 0 for c in clinics))
        self.engine.incoming("ss7/1", "c1", calling="13800138000")
        r = yield ivr.request("appointment.book", clinic=clinics[0]["clinic"], card="C20240001", channel="ss7/1")
        self.assertTrue(r["ok"], r)
        a = r["result"]["appointment"]
        self.assertEqual((a["confirmation"], a["calling"], a["source"], a["clinic"]),
                         ("261123001", "13800138000", "ivr", clinics[0]["clinic"]))
        r = yield ivr.request("appointment.book", clinic=clinics[0]["clinic"], card="C20240001", channel="ss7/1")
        self.assertEqual(error_code(r), 409)
        self.assertIn("already has an appointment", r["error"]["message"])
        r = yield ivr.request("appointment.book", clinic=clinics[0]["clinic"], card="C000")
        self.assertEqual(error_code(r), 404)
        r = yield ivr.request("appointment.book", clinic="1", card="C20240001")
        self.assertEqual(error_code(r), 400)
        r = yield ivr.request("hospital.free_clinics", department="nowhere")
        self.assertEqual(error_code(r), 404)
        r = yield ivr.request("appointment.list")
        self.assertEqual(error_code(r), 403)
        # an agent may book for a caller (front desk) but not identify cards or list appointments
        agent = yield self.client("1001", "a1-pw")
        r = yield agent.request("appointment.book", clinic=clinics[0]["clinic"], card="C20240002")
        self.assertEqual((r["result"]["appointment"]["confirmation"], r["result"]["appointment"]["source"]),
                         ("261123002", "1001"))
        for op, args in (("patient.card", {"card": "20240001"}), ("appointment.list", {})):
            r = yield agent.request(op, **args)
            self.assertEqual(error_code(r), 403, op)
        mon = yield self.client("wall", "wall-pw")
        r = yield mon.request("appointment.book", clinic=clinics[0]["clinic"], card="C20240003")
        self.assertEqual(error_code(r), 403)
        anon = yield self.client()
        r = yield anon.request("appointment.book", clinic=clinics[0]["clinic"], card="C20240003")
        self.assertEqual(error_code(r), 401)
        sup = yield self.client("sup", "sup-pw")
        r = yield sup.request("appointment.list", date=clinics[0]["date"])
        self.assertEqual([x["confirmation"] for x in r["result"]["appointments"]], ["261123001", "261123002"])
        r = yield sup.request("appointment.list", card="C20240002")
        self.assertEqual([x["confirmation"] for x in r["result"]["appointments"]], ["261123002"])
        r = yield sup.request("appointment.list", date="tomorrow")
        self.assertEqual(error_code(r), 400)


class Voicemail(DataOpsCase):
    @defer.inlineCallbacks
    def test_ivr_files_for_a_doctor_and_the_desk_lists_and_marks_heard(self):
        ivr = yield self.client("ivr", "ivr-pw")
        r = yield ivr.request("hospital.doctors", department="cardiology")
        docs = r["result"]["doctors"]
        self.assertEqual([d["name"] for d in docs], ["李秀英", "王建国"])
        wang = next(d["id"] for d in docs if d["name"] == "王建国")
        r = yield ivr.request("hospital.doctors", department="nowhere")
        self.assertEqual(error_code(r), 404)
        self.engine.incoming("ss7/1", "c1", calling="13800138000")
        name = self.recording("voicemail", "c1")
        self.recording("complaint", "c1", "dddddddddddd")
        r = yield ivr.request("voicemail.file", recording=REC, doctor=wang, channel="ss7/1")
        self.assertTrue(r["ok"], r)
        self.assertEqual(set(r["result"]), {"voicemail", "doctor", "left"})
        vm = r["result"]["voicemail"]
        for args, code in (({"recording": "dddddddddddd", "doctor": wang, "channel": "ss7/1"}, 404),  # a complaint
                           ({"recording": REC, "doctor": 999999, "channel": "ss7/1"}, 404),
                           ({"recording": REC, "doctor": "王建国", "channel": "ss7/1"}, 400),
                           ({"recording": REC, "doctor": wang}, 400)):
            r = yield ivr.request("voicemail.file", **args)
            self.assertEqual(error_code(r), code, args)
        for op, args in (("voicemail.list", {}), ("voicemail.mark_heard", {"voicemail": vm})):
            r = yield ivr.request(op, **args)
            self.assertEqual(error_code(r), 403, op)
        for user, pw in (("1001", "a1-pw"), ("wall", "wall-pw")):
            c = yield self.client(user, pw)
            for op, args in (("voicemail.list", {}), ("voicemail.mark_heard", {"voicemail": vm}),
                             ("voicemail.file", {"recording": REC, "doctor": wang, "calling": "1"})):
                r = yield c.request(op, **args)
                self.assertEqual(error_code(r), 403, (user, op))
        anon = yield self.client()
        r = yield anon.request("voicemail.list")
        self.assertEqual(error_code(r), 401)
        sup = yield self.client("sup", "sup-pw")
        r = yield sup.request("voicemail.list", doctor=wang, heard=False)
        [got] = r["result"]["voicemails"]
        self.assertEqual((got["voicemail"], got["recording"], got["calling"], got["call"], got["heard"]),
                         (vm, name, "13800138000", "c1", False))
        r = yield sup.request("voicemail.mark_heard", voicemail=vm)
        self.assertEqual((r["result"]["voicemail"]["heard"], r["result"]["voicemail"]["heard_by"]), (True, "sup"))
        r = yield sup.request("voicemail.list", heard=False)
        self.assertEqual(r["result"]["voicemails"], [])
        r = yield sup.request("voicemail.mark_heard", voicemail=424242)
        self.assertEqual(error_code(r), 404)
        admin = yield self.client("admin", "admin-pw")
        r = yield admin.request("voicemail.list", heard="no")
        self.assertEqual(error_code(r), 400)
