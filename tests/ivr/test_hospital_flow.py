"""hospital_main against the scripted client double: menu choices, invalid input, retries, timeouts, hang-ups,
data-op failures, the menu built from the enabled options."""
from __future__ import annotations

import datetime
import time

import pytest
from twisted.internet import defer
from twisted.logger import globalLogPublisher

from ivr_fakes import Caller, FakeClient, FakeCtiError, during
from ivrflows import FLOWS, HospitalConfig, HospitalMenu, hospital_main, make_hospital_main
from ivrflows.hospital import choice_text, clinic_label, clinics_text, departments_text, spoken_digits
from libcti.ivr import IvrRunner

# the shapes ctid.db.hospital returns (departments(), clinics_on()) as the daemon's data ops pass them on
DEPARTMENTS = {"departments": [
    {"code": "cardiology", "name": "Cardiology", "name_zh": "心内科", "floor": "Outpatient building, 3rd floor",
     "phone": "6601", "description": "心血管疾病、高血压、心律失常"},
    {"code": "paediatrics", "name": "Paediatrics", "name_zh": "儿科", "floor": "门诊楼二楼", "phone": "6602"},
    {"code": "emergency", "name": "Emergency", "name_zh": "急诊科", "floor": "Emergency building, ground floor"},
    {"code": "x", "name": "X-ray", "name_zh": "放射科", "floor": "Building B"},
]}
CLINICS = {"date": "2026-11-23", "clinics": [
    {"clinic": 1, "session": "am", "doctor": "王建国", "title": "Chief physician", "title_zh": "主任医师",
     "department": "cardiology", "department_name": "Cardiology", "department_zh": "心内科", "slots": 20, "free": 3},
    {"clinic": 2, "session": "am", "doctor": "李秀英", "title": "Associate chief physician",
     "title_zh": "副主任医师", "department": "cardiology", "department_zh": "心内科", "slots": 20, "free": 0},
    {"clinic": 3, "session": "pm", "doctor": "张丽", "title": "Chief physician", "title_zh": "主任医师",
     "department": "paediatrics", "department_zh": "儿科", "slots": 20, "free": 5},
]}
TODAY = datetime.date(2026, 11, 23)
FREE = [  # hospital.free_clinics of cardiology
    {"clinic": 11, "date": "2026-11-23", "session": "pm", "doctor": "王建国", "title_zh": "主任医师",
     "department": "cardiology", "department_zh": "心内科", "free": 2},
    {"clinic": 12, "date": "2026-11-24", "session": "am", "doctor": "李秀英", "title_zh": "副主任医师",
     "department": "cardiology", "department_zh": "心内科", "free": 9},
    {"clinic": 13, "date": "2026-11-26", "session": "am", "doctor": "王建国", "title_zh": "主任医师",
     "department": "cardiology", "department_zh": "心内科", "free": 1},
]
DOCTORS = [{"id": 21, "name": "李秀英", "title_zh": "副主任医师", "department": "cardiology"},
           {"id": 22, "name": "王建国", "title_zh": "主任医师", "department": "cardiology"}]
DEPT_CHOICE = "心内科请按1，儿科请按2，急诊科请按3，放射科请按4，重听请按星号键。"


@pytest.fixture
def logged():
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def make(flow=hospital_main, **kw):
    client = FakeClient()
    client.clock.advance(time.mktime(datetime.datetime(2026, 11, 23, 9, 30).timetuple()))
    client.data["hospital.departments"] = DEPARTMENTS
    client.data["hospital.clinics"] = lambda date: CLINICS if date == TODAY.isoformat() else {"clinics": []}
    client.data["complaint.file"] = lambda recording, channel: {"tracking": "261123017",
                                                                "filed": "2026-11-23T01:30:00Z"}
    client.data["patient.lookup"] = lambda number: {
        "patient": {"name": "张伟", "card_number": "C20240001"} if number == "13800138000" else None}
    client.data["patient.card"] = lambda card: {"card": "C20240002" if card == "20240002" else None}
    client.data["hospital.free_clinics"] = lambda department, limit: {
        "clinics": FREE[:limit] if department == "cardiology" else []}
    client.data["hospital.doctors"] = lambda department: {"doctors": DOCTORS if department == "cardiology" else []}
    client.data["voicemail.file"] = lambda recording, doctor, **who: {"voicemail": 7, "doctor": "王建国",
                                                                     "left": "2026-11-23T01:30:00Z"}
    client.data["appointment.book"] = lambda clinic, card, channel: {"appointment": dict(
        next(c for c in FREE if c["clinic"] == clinic), confirmation="261123042", card=card)}
    runner = IvrRunner(client, {"114": "hospital_main"}, {"hospital_main": flow}, clock=client.clock, **kw)
    defer.ensureDeferred(runner.start())
    return client, runner


def call(client, keys=(), **kw):
    client.incoming("ss7/5", caller=Caller(keys=list(keys), **kw))
    return client.ops_of("ss7/5")


def names(ops):
    return [o for o, _ in ops]


def texts(client):
    return [p.get("text") or p.get("prompt") for p in client.played("ss7/5")]


MENU = HospitalMenu().menu_text()


# --- the menu text ----------------------------------------------------------------------------------------------

def test_menu_offers_only_enabled_working_options():
    assert MENU == ("预约挂号请按1，查询科室和今日出诊医生请按2，给医生留言请按3，投诉和建议请按4，人工服务请按0，"
                    "重听请按星号键。")
    two = HospitalMenu(HospitalConfig(options=("0", "2"))).menu_text()
    assert two == "人工服务请按0，查询科室和今日出诊医生请按2，重听请按星号键。"


@pytest.mark.parametrize("kw, message", [
    ({"clinics_offered": 10}, "clinics_offered"),
    ({"card_min_digits": 8, "card_max_digits": 6}, "card digits"),
    ({"options": ("7",)}, "unknown menu key '7'"),
    ({"options": ()}, "at least one"),
    ({"options": ("2", "2")}, "duplicate"),
    ({"tries": 0}, "tries"),
    ({"prompts": {"welcome": {"prompt": "hello", "text": "x"}}}, "exactly one"),
    ({"prompts": {"wellcome": {"prompt": "hello"}}}, "unknown prompt name 'wellcome'"),
])
def test_bad_config_is_refused_with_a_clear_message(kw, message):
    with pytest.raises(ValueError, match=message):
        HospitalConfig(**kw)


def test_flow_registry():
    assert FLOWS["hospital_main"] is hospital_main


# --- menu choices -------------------------------------------------------------------------------------------------

def test_press_2_reads_departments_and_todays_clinics_then_returns_to_menu_then_0_to_agent(logged):
    client, runner = make()
    ops = call(client, keys=["2", "0"])
    assert names(ops) == ["answer", "play", "collect", "play", "collect", "play", "transfer"]
    assert ops[1][1] == {"prompts": [{"prompt": "welcome"}], "barge_in": True}
    collect = ops[2][1]
    assert collect["prompts"] == [{"text": MENU, "voice": "zh"}]
    assert collect["max_digits"] == 1 and collect["timeout"] == 5.0
    assert client.requests == [("hospital.departments", {}), ("hospital.clinics", {"date": "2026-11-23"})]
    info = ops[3][1]["prompts"]
    assert ops[3][1]["barge_in"] is True
    assert info == [{"prompt": "info_intro"}, {"prompt": "departments_intro"},
                    {"text": "心内科，3楼；儿科，门诊楼二楼；急诊科，1楼；放射科。", "voice": "zh"},
                    {"text": "今天上午出诊：心内科，王建国主任医师、李秀英副主任医师。今天下午出诊：儿科，张丽主任医师。",
                     "voice": "zh"}]
    assert ops[5][1]["prompts"] == [{"prompt": "agent_wait"}]
    assert ops[6][1] == {"queue": "frontdesk"}
    assert runner.metrics["hospital_main"]["completed"] == 1
    assert not [e for e in logged if "log_failure" in e]


def test_press_0_queues_for_the_front_desk():
    client, runner = make()
    ops = call(client, keys=["0"])
    assert names(ops) == ["answer", "play", "collect", "play", "transfer"]
    assert ops[-1][1]["queue"] == "frontdesk"


def test_digit_pressed_during_the_welcome_is_the_menu_choice():
    client, runner = make()
    ops = call(client, barge=["0"])
    assert names(ops) == ["answer", "play", "play", "transfer"]


def test_digit_pressed_during_the_information_is_the_next_choice():
    client, runner = make()
    ops = call(client, keys=["2"], barge=[None, "0"])
    # welcome not interrupted (None), information interrupted by 0 -> straight to the agent
    assert names(ops) == ["answer", "play", "collect", "play", "play", "transfer"]


def test_agent_queue_is_configurable():
    client, runner = make(make_hospital_main(HospitalConfig(options=("2", "0"), agent_queue="cardiology")))
    ops = call(client, keys=["0"])
    assert ops[-1] == ("transfer", {"queue": "cardiology"})


def test_disabled_option_is_invalid_input():
    client, runner = make(make_hospital_main(HospitalConfig(options=("2", "0"))))
    call(client, keys=["4", "0"])
    assert texts(client).count("invalid") == 1
    assert client.ops_of("ss7/5", "record") == []


# --- invalid input, retries, timeouts ------------------------------------------------------------------------------

def test_invalid_key_plays_invalid_and_asks_again():
    client, runner = make()
    ops = call(client, keys=["7", "0"])
    assert names(ops) == ["answer", "play", "collect", "play", "collect", "play", "transfer"]
    assert ops[3][1]["prompts"] == [{"prompt": "invalid"}]


def test_three_timeouts_say_goodbye_and_hang_up():
    client, runner = make()
    ops = call(client, keys=["", "", ""])
    assert names(ops) == ["answer", "play", "collect", "play", "collect", "play", "collect", "play", "hangup"]
    assert texts(client).count("timeout") == 2
    assert ops[-2][1]["prompts"] == [{"prompt": "goodbye"}]
    assert runner.metrics["hospital_main"]["completed"] == 1


def test_three_invalid_keys_go_to_an_agent():
    client, runner = make()
    ops = call(client, keys=["9", "", "#"])
    assert names(ops)[-2:] == ["play", "transfer"]
    assert texts(client).count("invalid") == 1 and texts(client).count("timeout") == 1
    assert ops[-1][1]["queue"] == "frontdesk"


def test_star_repeats_the_menu_without_using_a_try():
    client, runner = make()
    ops = call(client, keys=["*", "7", "*", "7", "*", "0"])
    assert names(ops).count("collect") == 6
    assert ops[-1][0] == "transfer"


def test_endless_star_counts_as_invalid_after_five_repeats():
    client, runner = make()
    ops = call(client, keys=["*"] * 8)
    assert names(ops).count("collect") == 8                      # 5 repeats, then 3 failed tries
    assert texts(client).count("invalid") == 2 and ops[-1] == ("transfer", {"queue": "frontdesk"})


def test_tries_are_configurable():
    client, runner = make(make_hospital_main(HospitalConfig(tries=1)))
    ops = call(client, keys=[""])
    assert names(ops) == ["answer", "play", "collect", "play", "hangup"]


# --- complaints --------------------------------------------------------------------------------------------------

def test_press_4_records_files_and_reads_the_tracking_number_back_repeatably():
    client, runner = make()
    ops = call(client, keys=["4", "*", "#", "0"], speak_seconds=12.5)
    assert names(ops) == ["answer", "play", "collect", "play", "record", "collect", "collect", "collect", "play",
                          "transfer"]
    rec = ops[4][1]
    assert rec["purpose"] == "complaint" and rec["terminators"] == "#" and rec["beep"] is True
    assert rec["max_seconds"] == 120.0
    assert ops[3][1]["prompts"] == [{"prompt": "complaints_intro"}]
    # filed with the recording id record returned and the caller's channel
    assert client.requests == [("complaint.file", {"recording": "rec-5", "channel": "ss7/5"})]
    said = {"text": "2，6，1，1，2，3，0，1，7", "voice": "zh"}
    assert ops[5][1]["prompts"] == [{"prompt": "recorded_thanks"}, {"prompt": "complaint_tracking"}, said,
                                    {"prompt": "readback_repeat"}]
    assert ops[6][1]["prompts"] == [{"prompt": "complaint_tracking"}, said, {"prompt": "readback_repeat"}]  # *
    assert ops[7][1]["prompts"] == [{"text": MENU, "voice": "zh"}]                                        # #
    assert ops[-1][1] == {"queue": "frontdesk"}


def test_a_menu_key_during_the_read_back_is_the_next_choice_and_silence_returns_to_the_menu():
    client, runner = make()
    ops = call(client, keys=["4", "0"])
    assert names(ops)[-3:] == ["collect", "play", "transfer"]
    client, runner = make()
    ops = call(client, keys=["4", "", "0"])
    assert names(ops)[-4:] == ["collect", "collect", "play", "transfer"]


def test_endless_star_in_the_read_back_ends_it():
    client, runner = make()
    ops = call(client, keys=["4"] + ["*"] * 6 + ["0"])
    assert names(ops).count("collect") == 1 + 6 + 1 and ops[-1][0] == "transfer"


def test_empty_complaint_is_reported_and_not_filed():
    client, runner = make()
    call(client, keys=["4", "0"], speak_seconds=0.2)
    assert "没有录到您的留言。" in texts(client)
    assert client.requests == []


def test_complaint_filing_failure_gets_apology_and_front_desk():
    client, runner = make()
    client.data["complaint.file"] = FakeCtiError(404, "not_found", "no complaint recording")
    ops = call(client, keys=["4"])
    assert names(ops)[-2:] == ["play", "transfer"] and ops[-2][1]["prompts"] == [{"prompt": "apology"}]
    assert runner.metrics["hospital_main"]["failed"] == 1


def test_spoken_digits():
    assert spoken_digits("2610") == "2，6，1，0"
    for bad in ("", "12a", "1 2", "١٢"):
        with pytest.raises(ValueError, match="digit by digit"):
            spoken_digits(bad)


# --- appointments -----------------------------------------------------------------------------------------------

def test_press_1_caller_known_by_number_books_a_clinic_and_hears_the_confirmation():
    client, runner = make()
    ops = call(client, keys=["1", "1", "1", "2", "#", "0"])
    assert names(ops) == ["answer", "play", "collect", "collect", "collect", "collect", "collect", "collect", "play",
                          "transfer"]
    assert ops[3][1]["prompts"] == [{"prompt": "card_found"}, {"text": "0，0，0，1", "voice": "zh"},
                                    {"prompt": "card_found_choice"}]
    assert ops[4][1]["prompts"] == [{"prompt": "appointments"}, {"text": DEPT_CHOICE, "voice": "zh"}]
    assert ops[5][1]["prompts"] == [{"prompt": "clinics_choose"}, {
        "text": "今天下午，王建国主任医师请按1，明天上午，李秀英副主任医师请按2，11月26日上午，王建国主任医师请按3，"
                "重听请按星号键。", "voice": "zh"}]
    assert client.requests == [
        ("patient.lookup", {"number": "13800138000"}), ("hospital.departments", {}),
        ("hospital.free_clinics", {"department": "cardiology", "limit": 5}),
        ("appointment.book", {"clinic": 12, "card": "C20240001", "channel": "ss7/5"})]
    assert ops[6][1]["prompts"] == [
        {"prompt": "appointments_confirm"}, {"text": "明天上午，心内科，李秀英副主任医师。", "voice": "zh"},
        {"prompt": "appointment_number"}, {"text": "2，6，1，1，2，3，0，4，2", "voice": "zh"},
        {"prompt": "readback_repeat"}]
    assert ops[-1][1] == {"queue": "frontdesk"}


def test_unknown_card_then_a_department_without_clinics_then_booked():
    client, runner = make()
    client.incoming("ss7/5", calling="13999999999", caller=Caller(keys=["1", "11112222", "20240002", "2", "1",
                                                                         "3", "", "0"]))
    ops = client.ops_of("ss7/5")
    played = texts(client)
    assert played.count("card_prompt") == 2 and played.count("card_unknown") == 1
    assert played.count("no_free_clinics") == 1              # paediatrics has none: choose again
    assert ("appointment.book", {"clinic": 13, "card": "C20240002", "channel": "ss7/5"}) in client.requests
    assert ("patient.card", {"card": "11112222"}) in client.requests
    card_entry = next(a for o, a in ops if o == "collect" and a["prompts"] == [{"prompt": "card_prompt"}])
    assert card_entry["terminators"] == "#" and card_entry["min_digits"] == 4 and card_entry["max_digits"] == 16
    assert ops[-1] == ("transfer", {"queue": "frontdesk"})


def test_caller_known_by_number_may_enter_another_card():
    client, runner = make()
    call(client, keys=["1", "2", "20240002", "1", "1", "#", "0"])
    assert client.requests[-1] == ("appointment.book", {"clinic": 11, "card": "C20240002", "channel": "ss7/5"})


def test_three_unknown_cards_go_back_to_the_menu():
    client, runner = make()
    client.incoming("ss7/5", calling="", caller=Caller(keys=["1", "1234", "", "99999999", "0"]))
    assert texts(client).count("card_unknown") == 2 and texts(client).count("timeout") == 1
    assert [r[0] for r in client.requests] == ["patient.card", "patient.card"]       # no lookup without a number
    assert client.ops_of("ss7/5")[-1] == ("transfer", {"queue": "frontdesk"})


def test_invalid_department_keys_go_back_to_the_menu():
    client, runner = make()
    ops = call(client, keys=["1", "1", "7", "*", "", "9", "0"])
    assert texts(client).count("invalid") == 1 and texts(client).count("timeout") == 1
    assert [r[0] for r in client.requests] == ["patient.lookup", "hospital.departments"]
    assert ops[-1] == ("transfer", {"queue": "frontdesk"})


def test_full_clinic_or_a_double_booking_is_said_and_the_caller_chooses_again():
    client, runner = make()
    answers = [FakeCtiError(409, "conflict", "clinic 11 (2026-11-23 pm) has no free slot"),
               FakeCtiError(409, "conflict", "card C20240001 already has an appointment at clinic 12")]

    def book(clinic, card, channel):
        if answers:
            raise answers.pop(0)
        return {"appointment": dict(FREE[2], confirmation="261123043", card=card)}
    client.data["appointment.book"] = book
    call(client, keys=["1", "1", "1", "1", "1", "2", "1", "3", "#", "0"])
    played = texts(client)
    assert played.index("appointments_full") < played.index("appointment_taken") < played.index("appointment_number")
    assert "2，6，1，1，2，3，0，4，3" in played
    assert [a["clinic"] for o, a in client.requests if o == "appointment.book"] == [11, 12, 13]


def test_lookup_failure_falls_back_to_the_card_and_booking_failure_gets_an_agent(logged):
    client, runner = make()
    client.data["patient.lookup"] = FakeCtiError(503, "unavailable", "database down")
    client.data["appointment.book"] = FakeCtiError(404, "not_found", "no such clinic 11")
    ops = call(client, keys=["1", "20240002", "1", "1"])
    assert texts(client).count("card_prompt") == 1
    assert ops[-2][1]["prompts"] == [{"prompt": "apology"}] and ops[-1] == ("transfer", {"queue": "frontdesk"})
    assert runner.metrics["hospital_main"]["failed"] == 1


def test_hangup_during_card_entry_cancels():
    client, runner = make()
    ops = call(client, keys=["1", "2"], hangup_when=during("collect", prompt="card_prompt"))
    client.clock.advance(1)
    assert runner.metrics["hospital_main"]["hangup"] == 1 and names(ops)[-1] == "collect"


def test_choice_text_and_clinic_labels():
    assert choice_text(["心内科", "儿科"]) == "心内科请按1，儿科请按2，重听请按星号键。"
    assert choice_text([str(i) for i in range(10)]).endswith("9请按10，两位数的编号请按井号键结束，重听请按星号键。")
    assert clinic_label(FREE[0]) == "11月23日下午，王建国主任医师"
    assert clinic_label(FREE[1], TODAY, department=True) == "明天上午，心内科，李秀英副主任医师"


# --- voicemail to a doctor ---------------------------------------------------------------------------------------

def test_press_3_leaves_a_message_for_a_doctor():
    client, runner = make()
    ops = call(client, keys=["3", "1", "2", "0"], speak_seconds=20.0)
    assert names(ops) == ["answer", "play", "collect", "collect", "collect", "play", "record", "play", "collect",
                          "play", "transfer"]
    assert ops[3][1]["prompts"] == [{"prompt": "voicemail_department"}, {"text": DEPT_CHOICE, "voice": "zh"}]
    assert ops[4][1]["prompts"] == [{"prompt": "voicemail_doctor"},
                                    {"text": "李秀英副主任医师请按1，王建国主任医师请按2，重听请按星号键。", "voice": "zh"}]
    assert ops[5][1]["prompts"] == [{"text": "给王建国主任医师留言。", "voice": "zh"}, {"prompt": "voicemail_intro"}]
    rec = ops[6][1]
    assert (rec["purpose"], rec["terminators"], rec["beep"], rec["max_seconds"]) == ("voicemail", "#", True, 60.0)
    assert client.requests[-1] == ("voicemail.file", {"recording": "rec-7", "doctor": 22, "channel": "ss7/5"})
    assert ops[7][1]["prompts"] == [{"prompt": "voicemail_thanks"}]


def test_voicemail_bad_input_department_without_doctors_and_an_empty_message():
    client, runner = make()
    call(client, keys=["3", "2", "1", "5", "", "1", "0"], speak_seconds=0.3)
    played = texts(client)
    assert played.count("no_doctors") == 1 and played.count("invalid") == 1 and played.count("timeout") == 1
    assert "没有录到您的留言。" in played
    assert [r[0] for r in client.requests] == ["hospital.departments", "hospital.doctors", "hospital.doctors"]


def test_voicemail_doctor_choice_fails_three_times_back_to_menu():
    client, runner = make()
    ops = call(client, keys=["3", "1", "7", "8", "9", "0"])
    assert client.ops_of("ss7/5", "record") == [] and ops[-1] == ("transfer", {"queue": "frontdesk"})


def _hangup_result(client, duration):
    ch = client.channel("ss7/5")
    orig = ch._result

    def result(op, args, caller):
        if op == "record":
            return {"recording": "0123456789ab", "path": "/rec/x.wav", "duration": duration, "reason": "hangup"}
        return orig(op, args, caller)
    ch._result = result


@pytest.mark.parametrize("keys, op, args", [
    (["3", "1", "2"], "voicemail.file", {"recording": "0123456789ab", "doctor": 22, "calling": "13800138000"}),
    (["4"], "complaint.file", {"recording": "0123456789ab", "calling": "13800138000"}),
])
def test_a_message_ended_by_hanging_up_is_still_filed(keys, op, args):
    client, runner = make()
    _hangup_result(client, 8.0)
    call(client, keys=keys)
    assert client.requests[-1] == (op, args)
    assert runner.metrics["hospital_main"]["hangup"] == 1


def test_a_too_short_message_ended_by_hanging_up_is_not_filed():
    client, runner = make()
    _hangup_result(client, 0.4)
    call(client, keys=["4"])
    assert client.requests == [] and runner.metrics["hospital_main"]["hangup"] == 1


# --- hang-ups and failures ---------------------------------------------------------------------------------------

def test_hangup_during_information_cancels_the_call(logged):
    client, runner = make()
    ops = call(client, keys=["2", "0"], hangup_when=during("play", text="心内科，3楼"))
    client.clock.advance(1)
    assert names(ops) == ["answer", "play", "collect", "play"]
    assert runner.metrics["hospital_main"]["hangup"] == 1 and runner.active == 0
    assert not [e for e in logged if "log_failure" in e]


def test_hangup_while_recording_cancels():
    client, runner = make()
    ops = call(client, keys=["4"], hangup_when=during("record"))
    client.clock.advance(1)
    assert names(ops)[-1] == "record" and runner.metrics["hospital_main"]["hangup"] == 1


def test_caller_who_never_presses_and_hangs_up_in_the_menu():
    client, runner = make()
    ops = call(client, keys=[])                       # the caller hangs up during the first menu prompt
    client.clock.advance(1)
    assert names(ops) == ["answer", "play", "collect"]
    assert runner.metrics["hospital_main"]["hangup"] == 1


def test_collect_reporting_hangup_ends_the_flow_without_more_prompts():
    client, runner = make()
    orig = client.channel("ss7/5")._result

    def result(op, args, caller):
        if op == "collect":
            return {"digits": "", "reason": "hangup", "tries": 1}
        return orig(op, args, caller)

    client.channel("ss7/5")._result = result
    ops = call(client, keys=["2"])
    assert names(ops) == ["answer", "play", "collect"]
    assert runner.metrics["hospital_main"]["hangup"] == 1


def test_data_op_failure_gets_apology_and_front_desk(logged):
    client, runner = make()
    client.data["hospital.departments"] = FakeCtiError(503, "unavailable", "database down")
    ops = call(client, keys=["2"])
    assert names(ops) == ["answer", "play", "collect", "play", "transfer"]
    assert ops[3][1]["prompts"] == [{"prompt": "apology"}]
    assert ops[4][1]["queue"] == "frontdesk"
    assert runner.metrics["hospital_main"]["failed"] == 1
    assert len([e for e in logged if "log_failure" in e]) == 1


# --- texts ---------------------------------------------------------------------------------------------------

def test_texts_for_empty_data():
    assert departments_text({"departments": []}) == ""
    assert clinics_text({"clinics": []}) == ""


def test_information_with_no_data_says_so():
    client, runner = make()
    client.data["hospital.departments"] = {"departments": []}
    client.data["hospital.clinics"] = lambda date: {"date": date, "clinics": []}
    ops = call(client, keys=["2", "0"])
    assert ops[3][1]["prompts"] == [{"prompt": "info_intro"}, {"text": "暂时没有科室信息。", "voice": "zh"},
                                    {"prompt": "no_clinics"}]


def test_clinics_without_session_are_still_read():
    t = clinics_text({"clinics": [{"doctor": "王芳", "department": "儿科", "session": "am"},
                                  {"doctor": {"name": "赵磊", "title_zh": "主治医师"}, "department": {"name_zh": "骨科"}},
                                  {"doctor": "钱进", "title": "Attending physician"}]})
    assert t == "今天上午出诊：儿科，王芳。今天出诊的还有：骨科，赵磊主治医师；钱进。"


def test_malformed_data_raises_a_clear_error():
    with pytest.raises(ValueError, match="departments: expected a list"):
        departments_text({"departments": "心内科"})
