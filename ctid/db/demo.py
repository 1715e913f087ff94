"""Demo hospital data: departments, doctors, clinics for today and tomorrow, demo users and patients.

:func:`load_demo` is idempotent: rows are matched by their natural keys (department code, doctor name,
clinic doctor/date/session, user name, card number) and only missing ones are added; existing users keep their
passwords. The people and numbers are fictional.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from .models import Clinic, Department, Doctor, Patient, PatientPhone, Queue
from .users import UserStore

# user -> (password, roles, agent, queues). Documented in docs/database.md; change them outside a demo.
DEMO_USERS: dict[str, tuple[str, frozenset[str], bool, tuple[str, ...]]] = {
    "admin": ("admin-demo", frozenset({"admin"}), False, ()),
    "ivr": ("ivr-demo", frozenset({"ivr"}), False, ()),
    "supervisor": ("supervisor-demo", frozenset({"supervisor"}), False, ()),
    "monitor": ("monitor-demo", frozenset({"monitor"}), False, ()),
    "1001": ("1001-demo", frozenset({"agent"}), True, ("frontdesk",)),
    "1002": ("1002-demo", frozenset({"agent"}), True, ("frontdesk", "cardiology")),
}
DEMO_PASSWORDS = {name: spec[0] for name, spec in DEMO_USERS.items()}

# code, English name, Chinese name, floor, phone, description
DEPARTMENTS = [
    ("cardiology", "Cardiology", "心内科", "Outpatient building, 3rd floor", "6601", "心血管疾病、高血压、心律失常"),
    ("paediatrics", "Paediatrics", "儿科", "Outpatient building, 2nd floor", "6602", "儿童常见病、发热门诊"),
    ("obstetrics", "Obstetrics and gynaecology", "妇产科", "Outpatient building, 4th floor", "6603", "产前检查、妇科疾病"),
    ("orthopaedics", "Orthopaedics", "骨科", "Outpatient building, 5th floor", "6604", "骨折、关节与脊柱疾病"),
    ("ophthalmology", "Ophthalmology", "眼科", "Outpatient building, 6th floor", "6605", "白内障、青光眼、验光"),
    ("stomatology", "Stomatology (dental)", "口腔科", "Outpatient building, 6th floor", "6606", "牙体牙髓、口腔修复"),
    ("dermatology", "Dermatology", "皮肤科", "Outpatient building, 7th floor", "6607", "湿疹、皮炎、过敏"),
    ("emergency", "Emergency", "急诊科", "Emergency building, ground floor", "6120", "24小时急诊"),
    ("respiratory", "Respiratory medicine", "呼吸内科", "Outpatient building, 3rd floor", "6608", "哮喘、慢阻肺、肺部感染"),
]

# department code, name, title, title_zh, specialty, schedule (weekday sessions)
DOCTORS = [
    ("cardiology", "王建国", "Chief physician", "主任医师", "coronary heart disease", "mon-am,wed-am,fri-pm"),
    ("cardiology", "李秀英", "Associate chief physician", "副主任医师", "arrhythmia", "tue-am,thu-pm"),
    ("paediatrics", "张丽", "Chief physician", "主任医师", "paediatric respiratory disease", "mon-am,tue-pm,thu-am"),
    ("paediatrics", "刘洋", "Attending physician", "主治医师", "neonatology", "wed-pm,fri-am"),
    ("obstetrics", "陈静", "Chief physician", "主任医师", "high-risk pregnancy", "mon-pm,wed-am"),
    ("obstetrics", "杨敏", "Attending physician", "主治医师", "gynaecological endocrinology", "tue-am,fri-am"),
    ("orthopaedics", "赵强", "Chief physician", "主任医师", "joint replacement", "tue-pm,thu-am"),
    ("orthopaedics", "黄磊", "Associate chief physician", "副主任医师", "spine surgery", "mon-am,fri-pm"),
    ("ophthalmology", "周明", "Associate chief physician", "副主任医师", "cataract", "wed-am,sat-am"),
    ("stomatology", "吴芳", "Attending physician", "主治医师", "endodontics", "mon-pm,thu-pm"),
    ("dermatology", "徐晓燕", "Associate chief physician", "副主任医师", "eczema and allergy", "tue-am,fri-pm"),
    ("emergency", "孙伟", "Attending physician", "主治医师", "emergency medicine", "daily"),
    ("respiratory", "马红", "Chief physician", "主任医师", "asthma and COPD", "wed-pm,sat-am"),
]

# name, card number, balance in fen, record summary, phone numbers
PATIENTS = [
    ("张伟", "C20240001", 35000, "高血压，长期服用氨氯地平；2024-03 心内科复诊", ("13800138000", "01062345678")),
    ("李娜", "C20240002", 12050, "孕28周，妇产科定期产检", ("13912345678",)),
    ("王芳", "C20240003", 0, "儿童哮喘（其子王小明），儿科随访", ("13700001111",)),
    ("刘强", "C20240004", 88800, "右膝关节置换术后康复，骨科复查", ("13600002222", "01087654321")),
]

QUEUES = {"frontdesk": "Front desk (前台)", "cardiology": "Cardiology nurses (心内科护士站)"}


def _sessions(index: int, day: dt.date) -> tuple[str, ...]:
    """Deterministic demo sessions: every doctor has a clinic on the day, some both sessions."""
    k = (index + day.toordinal()) % 3
    return ("am",) if k == 0 else ("pm",) if k == 1 else ("am", "pm")


def load_demo(db, today: dt.date | None = None, days: int = 2) -> dict[str, int]:
    """Load the demo hospital into ``db`` (idempotent). Returns how many rows of each kind were added."""
    today = today or dt.date.today()
    added = {"departments": 0, "doctors": 0, "clinics": 0, "users": 0, "patients": 0}
    with db.session() as s:
        depts = {d.code: d for d in s.scalars(select(Department))}
        for pos, (code, name, name_zh, floor, phone, desc) in enumerate(DEPARTMENTS):
            if code not in depts:
                depts[code] = Department(code=code, name=name, name_zh=name_zh, floor=floor, phone=phone,
                                         description=desc, position=pos)
                s.add(depts[code])
                added["departments"] += 1
        s.flush()
        docs = {(d.department_id, d.name): d for d in s.scalars(select(Doctor))}
        ordered = []
        for code, name, title, title_zh, specialty, schedule in DOCTORS:
            key = (depts[code].id, name)
            if key not in docs:
                docs[key] = Doctor(name=name, department=depts[code], title=title, title_zh=title_zh,
                                   specialty=specialty, schedule=schedule)
                s.add(docs[key])
                added["doctors"] += 1
            ordered.append(docs[key])
        s.flush()
        have = {(c.doctor_id, c.date, c.session)
                for c in s.scalars(select(Clinic).where(Clinic.date >= today,
                                                        Clinic.date < today + dt.timedelta(days=days)))}
        for offset in range(days):
            day = today + dt.timedelta(days=offset)
            for i, doc in enumerate(ordered):
                for sess in _sessions(i, day):
                    if (doc.id, day, sess) not in have:
                        slots = 20 + 5 * (i % 3)
                        s.add(Clinic(doctor=doc, date=day, session=sess, slots=slots, booked=(i * 7) % slots,
                                     fee_fen=5000 if doc.title_zh == "主任医师" else 2500))
                        added["clinics"] += 1
        cards = set(s.scalars(select(Patient.card_number)))
        for name, card, balance, summary, phones in PATIENTS:
            if card not in cards:
                s.add(Patient(name=name, card_number=card, balance_fen=balance, record_summary=summary,
                              phones=[PatientPhone(number=n) for n in phones]))
                added["patients"] += 1
    users: UserStore = db.users
    for name, (password, roles, agent, queues) in DEMO_USERS.items():
        if not users.exists(name):
            users.create_user(name, password, roles, agent=agent, queues=queues)
            added["users"] += 1
    with db.session() as s:
        for q in s.scalars(select(Queue).where(Queue.name.in_(list(QUEUES)))):
            if not q.description:
                q.description = QUEUES[q.name]
    return added
