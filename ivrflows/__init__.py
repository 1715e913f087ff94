"""ivrflows: the hospital IVR flows, written against libcti only."""
