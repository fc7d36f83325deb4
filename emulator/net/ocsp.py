"""An OCSP client (RFC 6960 over HTTP POST): what a verifier asks the CA about a certificate.

``OcspClient(url, issuer).status(cert)`` sends one DER request (SHA-1 cert id,
as common responders expect) to the responder at ``url`` and returns
``"good"``, ``"revoked"`` or ``"unknown"``. The answer must be a successful
OCSP response for that certificate's serial, signed by ``issuer`` (the CA
that issued the certificate, which signs its own OCSP answers here);
anything else — the responder down, a timeout, an HTTP error, a malformed
or wrongly signed answer — raises ``OcspError`` with one line. ``checks``
counts the requests sent.
"""

from __future__ import annotations

from typing import Literal

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
MAX_RESPONSE = 64 * 1024

CertStatus = Literal["good", "revoked", "unknown"]


class OcspError(Exception):
    """The responder gave no usable answer (one line)."""


class OcspClient:
    def __init__(self, url: str, issuer: x509.Certificate, *, timeout_s: float = 5.0) -> None:
        self.url = url
        self.issuer = issuer
        self.checks = 0
        self._client = httpx.Client(timeout=timeout_s, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def request_der(self, cert: x509.Certificate) -> bytes:
        return (ocsp.OCSPRequestBuilder().add_certificate(cert, self.issuer, hashes.SHA1()).build()
                .public_bytes(Encoding.DER))

    def status(self, cert: x509.Certificate) -> CertStatus:
        self.checks += 1
        try:
            r = self._client.post(self.url, content=self.request_der(cert), headers={"Content-Type": OCSP_REQUEST})
        except httpx.HTTPError as exc:
            raise OcspError(f"OCSP responder {self.url}: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise OcspError(f"OCSP responder {self.url}: HTTP {r.status_code}")
        if len(r.content) > MAX_RESPONSE:
            raise OcspError(f"OCSP responder {self.url}: an answer of {len(r.content)} bytes")
        return read_response(r.content, cert, self.issuer)


def read_response(data: bytes, cert: x509.Certificate, issuer: x509.Certificate) -> CertStatus:
    """The status in a DER OCSP response for ``cert``, checked against ``issuer`` (``OcspError`` otherwise)."""
    try:
        resp = ocsp.load_der_ocsp_response(data)
    except ValueError:
        raise OcspError("OCSP: not an OCSP response") from None
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspError(f"OCSP: the responder says {resp.response_status.name}")
    if resp.serial_number != cert.serial_number:
        raise OcspError("OCSP: an answer about another certificate")
    public = issuer.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or resp.signature_hash_algorithm is None:
        raise OcspError("OCSP: the issuer's key cannot check this answer")
    try:
        public.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
    except InvalidSignature:
        raise OcspError("OCSP: the answer is not signed by the issuer") from None
    return {ocsp.OCSPCertStatus.GOOD: "good", ocsp.OCSPCertStatus.REVOKED: "revoked",
            ocsp.OCSPCertStatus.UNKNOWN: "unknown"}[resp.certificate_status]  # type: ignore[return-value]
