"""tests/cti: this checkout first on sys.path (for ctid and libcti), and this folder for the test doubles."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for p in (str(Path(__file__).resolve().parent), str(ROOT)):
    if p in sys.path:
        sys.path.remove(p)
    sys.path.insert(0, p)
