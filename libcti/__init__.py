"""libcti: the Python client library for the ctid CTI protocol. Imports nothing from ctid."""
