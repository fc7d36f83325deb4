"""The device's root-certificate store, a lab CA for the mock servers, and the
classification of real TLS/socket failures into device error codes."""

from tls_store.errors import PHASES, TlsError, classify, classify_detail
from tls_store.store import DEFAULT_CAPACITY, SlotInfo, TlsStore, parse_certificates

__all__ = ["DEFAULT_CAPACITY", "PHASES", "SlotInfo", "TlsError", "TlsStore", "classify", "classify_detail",
           "parse_certificates"]
