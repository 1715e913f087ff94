"""libcti: the Python client library for the ctid CTI protocol (docs/cti-protocol.md). Imports nothing from ctid.

    from libcti import connect
    client = await connect("tcp:127.0.0.1:7000", user="1001", password="...", reactor=reactor)
"""
from .channel import Agent, Channel
from .client import PROTOCOL, Client, CtiError, Event, connect

__all__ = ["Agent", "Channel", "Client", "CtiError", "Event", "PROTOCOL", "connect"]
