"""Signalling stacks: China No.1 (CAS + MFC R2) and SS7 (MTP2/MTP3/ISUP) (issue 4)."""
