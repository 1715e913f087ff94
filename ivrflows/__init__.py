"""ivrflows: the hospital IVR flows, written against libcti only (imports nothing from ctid).

``FLOWS`` maps a flow name (as used in the ``[[routes]]`` of the daemon's config and in ``--route``) to an async
function ``flow(ctx)`` run by ``libcti.ivr.IvrRunner``.
"""
from ivrflows.hospital import HospitalConfig, HospitalMenu, hospital_main, make_hospital_main

FLOWS = {
    "hospital_main": hospital_main,
}

DEFAULT_ROUTES = {"114": "hospital_main"}

__all__ = ["FLOWS", "DEFAULT_ROUTES", "HospitalConfig", "HospitalMenu", "hospital_main", "make_hospital_main"]
