"""The mock certification authority (АЦСК): key containers, revocation, an OCSP responder on loopback."""
