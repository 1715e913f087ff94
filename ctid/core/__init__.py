"""The call core: trunks (SS7, China No.1, analogue) -> channels and calls, bridging, the ACD and the Engine."""
from .errors import EngineError

__all__ = ["EngineError"]
