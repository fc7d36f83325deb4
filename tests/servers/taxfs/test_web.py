"""The tax server and the CA's OCSP responder on the real loopback network (uvicorn, httpx)."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from emulator.net.ocsp import OcspClient, OcspError
from emulator.servers.ca.model import CertificationAuthority
from emulator.servers.ca.web import serve_in_thread as ca_host
from emulator.servers.taxfs.web import serve_in_thread as taxfs_host
from emulator.wire import cms
from emulator.wire.prro.document import Ticket
from tests.servers.taxfs.world import FN, make_world


@pytest.fixture
def net():
    w = make_world()
    ca = ca_host(w.ca)
    ocsp = OcspClient(ca.url + "/ocsp", w.ca.certificate, timeout_s=5)
    w.server.cert_status = ocsp.status
    fs = taxfs_host(w.server)
    client = httpx.Client(base_url=fs.url, timeout=10, trust_env=False)
    yield w, ocsp, ca, fs, client
    client.close()
    ocsp.close()
    fs.stop()
    ca.stop()


def post(client: httpx.Client, path: str, body: bytes, **kw) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/octet-stream"}, **kw)


def test_documents_over_http_with_ocsp_on_every_one(net):
    w, ocsp, _, _, client = net
    key = w.key()
    till = w.till(key)
    r = post(client, "/fs/doc", key.sign(till.document(doctype=100).to_xml()))
    assert r.status_code == 200
    content, cert = cms.verify(r.content)
    assert cert == w.server.signer.certificate and Ticket.from_xml(content).ordertaxnum
    assert ocsp.checks == 1
    w.ca.revoke(key.info.serial)
    till.local = 2
    r = post(client, "/fs/doc", key.sign(till.sale().to_xml()))
    assert r.status_code == 400 and ocsp.checks == 2
    assert r.text.startswith("Код помилки: 12 CryptographyError\r\n") and "CertStatus: 1" in r.text
    r = post(client, "/fs/doc", key.sign(till.sale().to_xml()), params={"resultAsJson": "true"})
    assert r.status_code == 200 and r.json()["ErrorCode"] == 12


def test_commands_and_compression_over_http(net):
    w, _, _, _, client = net
    key = w.key()
    body = key.sign(json.dumps({"Command": "TransactionsRegistrarState", "NumFiscal": FN}).encode())
    r = client.post("/fs/cmd", content=gzip.compress(body),
                    headers={"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["ShiftState"] == 0
    r = client.post("/fs/cmd", json={"Command": "ServerState"})
    assert r.status_code == 200 and "Timestamp" in r.json()
    stranger = w.key("Незареєстрований", register=False)
    r = post(client, "/fs/cmd", stranger.sign(b'{"Command": "Objects"}'))
    assert r.status_code == 204 and r.content == b""


def test_size_limit_and_gross_errors(net):
    _, _, _, _, client = net
    assert post(client, "/fs/doc", b"x" * (200 * 1024 + 10)).status_code == 416
    r = post(client, "/fs/doc", b"<CHECK/>")
    assert r.status_code == 400 and "кваліфікованим електронним підписом" in r.text
    assert client.get("/fs/doc").status_code == 405


def test_lost_answer_over_http_then_the_resend_gets_the_same_ticket(net):
    w, _, _, _, client = net
    key = w.key()
    till = w.till(key)
    assert till.open().error_code is None
    sale = till.sale(990)
    w.server.faults.plan(["lost-answer"])
    with pytest.raises(httpx.TransportError):
        post(client, "/fs/doc", key.sign(sale.to_xml()))
    r = post(client, "/fs/doc", key.sign(sale.to_xml()))
    assert r.status_code == 200
    assert [d.uid for d in w.server.documents].count(sale.uid) == 1


def test_faults_down_and_5xx(net):
    w, _, _, _, client = net
    w.server.faults.plan([503])
    assert post(client, "/fs/doc", b"").status_code == 503
    w.server.faults.down = True
    with pytest.raises(httpx.TransportError):
        post(client, "/fs/doc", b"")


def test_ocsp_down_is_code_12(net):
    w, _, ca, _, client = net
    key = w.key()
    ca.stop()
    r = post(client, "/fs/doc", key.sign(w.till(key).document(doctype=100).to_xml()))
    assert r.status_code == 400 and "OCSP" in r.text and r.text.startswith("Код помилки: 12 ")


def test_page_and_state(net):
    w, _, _, _, client = net
    till = w.till(w.key("Олена Касир"))
    till.open()
    page = client.get("/")
    assert page.status_code == 200 and "Олена Касир" in page.text and FN in page.text
    assert page.headers["x-frame-options"] == "DENY"
    state = client.get("/api/state").json()
    assert state["registrars"][0]["shift_open"] is True
    cross = client.post("/fs/doc", content=b"", headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403


def test_ca_front(net):
    w, ocsp, ca, _, _ = net
    key, _ = w.ca.issue("Іван", "1234567890", "cashier", days=3, password="p")
    with httpx.Client(base_url=ca.url, trust_env=False) as c:
        assert c.post("/ocsp", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
        assert c.post("/ocsp", content=b"x" * 20000,
                      headers={"Content-Type": "application/ocsp-request"}).status_code == 413
        assert "Іван" in c.get("/").text
        assert [k["status"] for k in c.get("/api/keys").json()["keys"]] == ["good"]
        assert c.get("/ca.pem").text.startswith("-----BEGIN CERTIFICATE-----")
    assert ocsp.status(key.certificate) == "good"
    w.ca.revoke(key.serial)
    assert ocsp.status(key.certificate) == "revoked"


def test_ocsp_client_refuses_an_answer_not_signed_by_the_issuer(net):
    w, _, ca, _, _ = net
    other = CertificationAuthority(w.clock, seed=b"another CA")
    liar = OcspClient(ca.url + "/ocsp", other.certificate)
    key, _ = w.ca.issue("Іван", "1234567890", "cashier", days=3, password="p")
    with pytest.raises(OcspError):
        liar.status(key.certificate)
    liar.close()


def test_only_loopback():
    from emulator.net.asgihost import AsgiHost
    with pytest.raises(ValueError, match="loopback"):
        AsgiHost(None, host="0.0.0.0")


def test_https_front_with_verification_on():
    import ssl

    from tls_store.lab_ca import LabCA

    w = make_world()
    lab = LabCA.create()
    ctx = lab.server_context(lab.issue_server(["localhost"], ip_addresses=["127.0.0.1"]))
    fs = taxfs_host(w.server, ssl_context=ctx)
    try:
        assert fs.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cadata=lab.cert_pem.decode())
        with httpx.Client(base_url=fs.url, verify=trust, trust_env=False) as c:
            assert c.post("/fs/cmd", json={"Command": "ServerState"}).status_code == 200
        with httpx.Client(base_url=fs.url, trust_env=False) as c, pytest.raises(httpx.ConnectError):
            c.post("/fs/cmd", json={"Command": "ServerState"})        # the lab CA is not trusted by default
    finally:
        fs.stop()
