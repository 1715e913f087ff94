"""ctid.cti: the CTI protocol server (docs/cti-protocol.md)."""
from .errors import ERROR_NAMES, OpError
from .ops import Arg, RequestContext
from .protocol import PROTOCOL, CtiProtocol
from .server import CtiServer

__all__ = ["Arg", "CtiProtocol", "CtiServer", "ERROR_NAMES", "OpError", "PROTOCOL", "RequestContext"]
