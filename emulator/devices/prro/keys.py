"""The private-key field: a key file and its password, «Read», and the signer it gives.

Reading follows the seeds' symptoms, in this order:

1. the file is not where the field says (moved, deleted) → «Library not initialized»;
2. the file's key type needs a CA library the ПРРО has not installed → «Library
   not initialized» too, until «Update libraries» (MODELLED: the file keys'
   libraries — ``.pfx``/``.p12`` and ``Key-6.dat`` — come installed; another
   bank's ``.jks`` needs its own);
3. the container cannot be opened (damaged, wrong password, a kind no library reads) → «Error loading key certificates»;
4. the certificate is past its validity on the virtual clock → «The certificate has expired».

Otherwise the owner's certificate information is shown. Revocation is not seen
here: the ПРРО learns it from the tax server, which asks the CA's OCSP.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from emulator.wire.cms import CertInfo, KeyFileError, Signer, cert_info, load_container

MAX_KEY_FILE_BYTES = 1 << 20

# The libraries a fresh ПРРО has (MODELLED): the file keys (PKCS#12 and IIT's Key-6.dat);
# «Update libraries» adds the rest (another bank's .jks).
DEFAULT_LIBRARIES = ("iit", "pkcs12")
ALL_LIBRARIES = ("iit", "pkcs12", "privatbank")

# KeyFileError.kind -> the message the ПРРО shows.
MESSAGE_OF_KIND = {"missing": "key_missing", "library": "key_missing", "damaged": "key_damaged",
                   "wrong-password": "key_damaged", "unsupported": "key_damaged"}


@dataclass(frozen=True)
class KeyRead:
    """What «Read» gives: a signer and its certificate's information, or a message id."""

    message: str | None            # None: read well
    info: CertInfo | None = None
    signer: Signer | None = None
    detail: str = ""


_OPENED: dict[bytes, tuple[Signer, CertInfo]] = {}
_OPENED_MAX = 64


def _open(data: bytes, password: str, name: str, libraries: tuple[str, ...]) -> tuple[Signer, CertInfo]:
    """``load_container`` remembered by the file's bytes, password, name and libraries: the file is read at
    every signing (a moved or changed file is seen at once), the container opened once."""
    key = hashlib.sha256(b"\0".join([hashlib.sha256(data).digest(), password.encode(), name.encode(),
                                      ",".join(libraries).encode()])).digest()
    got = _OPENED.get(key)
    if got is None:
        signer = load_container(data, password, name=name, libraries=libraries)
        got = signer, cert_info(signer.certificate)
        if len(_OPENED) >= _OPENED_MAX:
            _OPENED.pop(next(iter(_OPENED)))
        _OPENED[key] = got
    return got


def read_key(path: str, password: str, *, now_ms: int, libraries: tuple[str, ...] | list[str]) -> KeyRead:
    p = Path(path)
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        return KeyRead("key_missing", detail=f"{p.name}: {exc.strerror or 'cannot be read'}")
    if len(data) > MAX_KEY_FILE_BYTES:
        return KeyRead("key_damaged", detail=f"{p.name}: larger than 1 MiB")
    try:
        signer, info = _open(data, password, p.name, tuple(sorted(libraries)))
    except KeyFileError as exc:
        return KeyRead(MESSAGE_OF_KIND[exc.kind], detail=exc.detail)
    if now_ms > info.not_after_ms:
        return KeyRead("cert_expired", info=info)
    if now_ms < info.not_before_ms:
        return KeyRead("key_damaged", info=info, detail="the certificate is not valid yet")
    return KeyRead(None, info=info, signer=signer)
