"""Client endpoint strings for libcti: Twisted's, plus verified TLS with a CA file.

    tcp:127.0.0.1:7000                       plain TCP (loopback or trusted networks only)
    tls:cti.example.org:7001:caFile=ca.pem   TLS, server certificate checked against ca.pem and the host name
    ssl:127.0.0.1:7001:caFile=ca.pem         the same (ssl: is an alias here; it always verifies)
    tls:cti.example.org:7001                 TLS checked against the system's trust store
Extra TLS keys: hostname= (name to verify when connecting by address), certificate= and privateKey= (a client
certificate, PEM), timeout= (connect timeout, s). Anything else goes to Twisted's clientFromString.
"""
from __future__ import annotations

from twisted.internet.endpoints import HostnameEndpoint, clientFromString, wrapClientTLS


def _split(desc: str) -> list[str]:
    """Split on ':' honouring backslash escapes (as Twisted's endpoint strings do)."""
    parts, cur, i = [], [], 0
    while i < len(desc):
        c = desc[i]
        if c == "\\" and i + 1 < len(desc):
            cur.append(desc[i + 1])
            i += 2
            continue
        if c == ":":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def parse_tls(desc: str) -> dict:
    parts = _split(desc)
    kind, rest = parts[0], parts[1:]
    positional, kw = [], {}
    for p in rest:
        if "=" in p:
            k, v = p.split("=", 1)
            kw[k] = v
        else:
            positional.append(p)
    names = ["host", "port"]
    for name, val in zip(names, positional):
        kw.setdefault(name, val)
    if "host" not in kw or "port" not in kw:
        raise ValueError(f"{kind}: endpoint needs a host and a port: {desc!r}")
    try:
        kw["port"] = int(kw["port"])
    except ValueError:
        raise ValueError(f"{kind}: port must be a number, not {kw['port']!r}") from None
    known = {"host", "port", "caFile", "hostname", "certificate", "privateKey", "timeout"}
    unknown = set(kw) - known
    if unknown:
        raise ValueError(f"{kind}: unknown option(s) {sorted(unknown)} in {desc!r}")
    return kw


def client_endpoint(reactor, desc, ca_file: str | None = None):
    """An IStreamClientEndpoint for `desc` (a string, or an endpoint object returned as is)."""
    if not isinstance(desc, str):
        return desc
    if not (desc.startswith("tls:") or desc.startswith("ssl:")):
        if ca_file:
            raise ValueError("ca_file is only for tls: / ssl: endpoints")
        return clientFromString(reactor, desc)
    from twisted.internet import ssl

    kw = parse_tls(desc)
    ca = kw.get("caFile") or ca_file
    if ca:
        with open(ca, "rb") as f:
            trust = ssl.Certificate.loadPEM(f.read())
    else:
        trust = ssl.platformTrust()
    client_cert = None
    if kw.get("certificate"):
        with open(kw["certificate"], "rb") as f:
            pem = f.read()
        key_pem = pem
        if kw.get("privateKey"):
            with open(kw["privateKey"], "rb") as f:
                key_pem = f.read()
        client_cert = ssl.PrivateCertificate.loadPEM(pem + b"\n" + key_pem)
    options = ssl.optionsForClientTLS(kw.get("hostname") or kw["host"], trustRoot=trust,
                                      clientCertificate=client_cert)
    timeout = float(kw.get("timeout", 30))
    return wrapClientTLS(options, HostnameEndpoint(reactor, kw["host"], kw["port"], timeout=timeout))
