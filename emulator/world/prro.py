"""The ПРРО's world: one clock, the mock CA, the tax service's fiscal server, key files, the ПРРО.

``PrroWorld`` composes (this is the composition root for the Ukrainian side,
as ``world.root`` is for the Russian one):

* ``ca`` — ``CertificationAuthority`` on the world's clock: ``issue_key`` writes
  the container into ``keys/`` under the file name asked (``Key-6.dat``,
  ``new.jks``, ``key.pfx``);
* ``tax`` — ``TaxServer``: the taxpayer, its ПРРО (form 1-ПРРО, one per
  ``add_prro``), the operators (``register``: form 5-ПРРО → «Квитанція №2»,
  active after the propagation delay); the certificate status it asks is the
  CA's OCSP answer (``ocsp_status``: a DER OCSP request answered by the CA and
  read back);
* the link — ``LocalTaxLink`` (simulated: the server's gate called in process,
  planned latency moving the virtual clock) or ``HttpTaxLink`` over loopback to
  the server's HTTP front under uvicorn (real; the tax server then asks the
  CA's OCSP responder over HTTP too);
* the ПРРО devices, each with its own state directory.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from emulator.base.clock import VirtualClock
from emulator.base.storage import private_dir, write_atomic
from emulator.devices.prro.device import Identity, PrroDevice
from emulator.net.ocsp import OcspClient, read_response
from emulator.net.taxlink import HttpTaxLink, LocalTaxLink, TaxLink
from emulator.rules.prro import DEFAULT_PROPAGATION_DELAY_MS, Role
from emulator.servers.ca.model import CertificationAuthority, IssuedKey
from emulator.servers.taxfs.model import Receipt2, TaxServer

TAXPAYER_TIN = "34554362"
TAXPAYER = "ТОВ «Тестова крамниця»"
FIRST_FISCAL_NUM = 4000002411


class PrroWorldError(ValueError):
    """A world request that cannot be done (unknown key or ПРРО name, bad value): one line."""


class PrroWorld:
    def __init__(self, directory: Path | None = None, *, start_ms: int = 0, seed: int = 0,
                 network: str = "simulated", propagation_delay_ms: int = DEFAULT_PROPAGATION_DELAY_MS) -> None:
        if network not in ("simulated", "real"):
            raise PrroWorldError(f"network: simulated or real, not {network!r}")
        self._tmp = None if directory is not None else tempfile.mkdtemp(prefix="kkt-emu-prro-")
        self.directory = private_dir(Path(directory if directory is not None else self._tmp))  # type: ignore[arg-type]
        self.network = network
        self.clock = VirtualClock(start_ms)
        self.ca = CertificationAuthority(self.clock, seed=hashlib.sha256(f"kkt-emu prro ca {seed}".encode()).digest())
        # Another bank's CA: the tax server trusts its certificates, but the OCSP it asks is this world's CA,
        # which does not know them (MODELLED: the seeds' «Certificate not found» for a key of another CA).
        self.other_ca = CertificationAuthority(self.clock, seed=hashlib.sha256(f"kkt-emu other ca {seed}".encode())
                                               .digest(), name="Інший АЦСК (модель)")
        server_key, _ = self.ca.issue("Державна податкова служба України", "43005393", Role.DIRECTOR,
                                      days=3650, password="server")
        self.tax = TaxServer(self.clock, tin=TAXPAYER_TIN, taxpayer=TAXPAYER, cert_status=self.ocsp_status,
                             trusted=[self.ca.certificate, self.other_ca.certificate], propagation_delay_ms=propagation_delay_ms,
                             signer=self.ca.signer(server_key.serial))
        self.keys: dict[str, IssuedKey] = {}
        self.key_files: dict[str, Path] = {}
        self.devices: dict[str, PrroDevice] = {}
        self.identities: dict[str, Identity] = {}
        self._http: Any = None
        self._ca_http: Any = None
        self._ocsp: Any = None
        self.ocsp_requests = 0

    # ------------------------------------------------------------ the CA
    def ocsp_status(self, cert: x509.Certificate) -> str:
        """The CA's OCSP answer for ``cert``: a DER request, the CA's signed DER response, read back and checked
        (in process; on the real network the tax server asks the CA's responder over HTTP instead)."""
        self.ocsp_requests += 1
        req = ocsp.OCSPRequestBuilder().add_certificate(cert, self.ca.certificate, hashes.SHA1()).build()
        return read_response(self.ca.ocsp_response(req.public_bytes(serialization.Encoding.DER)), cert,
                             self.ca.certificate)

    def issue_key(self, name: str, *, owner: str, tax_id: str = "1234567890", role: str = "cashier",
                  days: int = 365, password: str = "1111", file: str = "key.pfx", ca: str = "main") -> Path:
        """A key from the CA (``ca="other"``: another bank's), its container written to ``keys/<name>/<file>``."""
        if name in self.keys:
            raise PrroWorldError(f"key {name!r} is issued already")
        if ca not in ("main", "other"):
            raise PrroWorldError(f"ca: main or other, not {ca!r}")
        try:
            issued, container = (self.ca if ca == "main" else self.other_ca).issue(owner, tax_id, Role(role), days=days, password=password, container=file)
        except ValueError as exc:
            raise PrroWorldError(f"key {name!r}: {exc}") from None
        path = self.directory / "keys" / name / Path(file).name
        write_atomic(path, container)
        self.keys[name] = issued
        self.key_files[name] = path
        return path

    def key(self, name: str) -> IssuedKey:
        try:
            return self.keys[name]
        except KeyError:
            raise PrroWorldError(f"no key {name!r} (issued: {', '.join(self.keys) or 'none'})") from None

    def revoke(self, name: str) -> None:
        self.ca.revoke(self.key(name).serial)

    def register(self, name: str, role: str, *, delay_ms: int | None = None) -> Receipt2:
        """Form 5-ПРРО for key ``name`` with signature type ``role``: «Квитанція №2»."""
        return self.tax.register_operator(self.key(name).certificate, Role(role), delay_ms=delay_ms)

    def move_key(self, name: str) -> Path:
        """The key file moved away from where the settings point (to ``moved/``)."""
        src = self.key_files[name]
        dst = self.directory / "moved" / name / src.name
        private_dir(dst.parent)
        shutil.move(src, dst)
        return dst

    def damage_key(self, name: str) -> None:
        path = self.key_files[name]
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        write_atomic(path, bytes(data))

    # ------------------------------------------------------------ ПРРО
    def add_prro(self, name: str, *, offline_supported: bool = True) -> PrroDevice:
        """A ПРРО registered (form 1-ПРРО) and started on its own state directory."""
        self.register_prro(name, offline_supported=offline_supported)
        return self.start_prro(name)

    def register_prro(self, name: str, *, offline_supported: bool = True) -> Identity:
        """Form 1-ПРРО only: the tax server knows the ПРРО (its device may run elsewhere, another process)."""
        if name in self.identities:
            raise PrroWorldError(f"ПРРО {name!r} exists already")
        n = len(self.identities)
        identity = Identity(tin=TAXPAYER_TIN, org=TAXPAYER, point=f"Магазин №{n + 1}",
                            fiscal_num=str(FIRST_FISCAL_NUM + n), desk_num=str(n + 1))
        self.tax.register_prro(identity.fiscal_num, local_num=identity.desk_num, name=f"ПРРО {name}",
                               unit_name=identity.point, address=identity.address, offline_supported=offline_supported)
        self.identities[name] = identity
        return identity

    def start_prro(self, name: str) -> PrroDevice:
        """The ПРРО ``name`` (re)started on its state directory."""
        old = self.devices.pop(name, None)
        if old is not None:
            old.close()
        device = PrroDevice(self.directory / "prro" / name, self.clock, self.link(), identity=self.identities[name])
        self.devices[name] = device
        return device

    def device(self, name: str) -> PrroDevice:
        try:
            return self.devices[name]
        except KeyError:
            raise PrroWorldError(f"no ПРРО {name!r} (there are: {', '.join(self.devices) or 'none'})") from None

    def link(self) -> TaxLink:
        if self.network == "simulated":
            return LocalTaxLink(self.tax, advance=lambda ms: self.clock.run_until(self.clock.now_ms + ms))
        return HttpTaxLink(f"{self.http_url()}/fs", timeout_s=5.0)

    def http_url(self) -> str:
        """The tax server's HTTP front on loopback (started on first use, with the CA's OCSP responder, which
        the tax server then asks over HTTP)."""
        if self._http is None:
            from emulator.servers.ca.web import make_host as ca_host
            from emulator.servers.taxfs.web import make_host as tax_host
            self._ca_http = ca_host(self.ca).start()
            self._ocsp = OcspClient(f"{self._ca_http.url}/ocsp", self.ca.certificate)
            self.tax.cert_status = self._ocsp.status
            self._http = tax_host(self.tax).start()
        return str(self._http.url)

    def close(self) -> None:
        for device in self.devices.values():
            device.close()
        self.devices.clear()
        if self._http is not None:
            self._http.stop()
            self._ca_http.stop()
            self._ocsp.close()
            self._http = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> PrroWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
