"""tests/libcti: this checkout first on sys.path, and tests/cti for the engine and user store test doubles."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for p in (str(ROOT / "tests" / "cti"), str(ROOT)):
    if p in sys.path:
        sys.path.remove(p)
    sys.path.insert(0, p)
