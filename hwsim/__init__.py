"""hwsim: the loopback rig: simulated boards, lines, phones and callers."""
