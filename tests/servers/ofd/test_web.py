"""The mock OFD's page and JSON API: documents decoded, 1260 and 2106 per item, filters."""

import datetime as dt

import pytest
from starlette.testclient import TestClient

from emulator.servers.ofd.model import OfdModel
from emulator.servers.ofd.web import make_app
from tests.servers.ofd.docs import CODE, FN, T0, message

OTHER_FN = "9999078900009999"


@pytest.fixture
def client():
    model = OfdModel()
    model.exchange(message(1, when=dt.datetime(2025, 11, 30, 10, 0)), T0)
    model.exchange(message(2), T0 + 1000)
    model.exchange(message(1, fn=OTHER_FN), T0 + 2000)
    return TestClient(make_app(model), base_url="http://127.0.0.1")


def test_the_api_lists_documents_with_1260_and_2106(client):
    docs = client.get("/api/documents").json()["documents"]
    assert [(d["fiscalDriveNumber"], d["fiscalDocumentNumber"]) for d in docs] == [
        (OTHER_FN, 1), (FN, 2), (FN, 1)]
    d = docs[1]
    assert d["code"] == 3 and d["name"] == "Кассовый чек" and d["ofdResponseCode"] == 0 and d["totalSum"] == 10000
    marked, plain = d["items"]
    assert marked["labelCode"] == CODE and marked["checkingProdInformationResult"] == 15
    assert marked["itemsIndustryDetails"] == [{
        "idFoiv": "030", "foundationDocDateTime": "21.11.2023", "foundationDocNumber": "1944",
        "industryPropValue": "UUID=2ce10bdb-6510-4d37-be04-dd473b98c728&Time=1692691702065"}]
    assert plain == {"name": "Хлеб", "labelCode": None, "itemsIndustryDetails": [],
                     "checkingProdInformationResult": None}
    one = client.get(f"/api/documents/{d['seq']}").json()
    assert one["document"]["code"] == 3 and one["acknowledgement"]["code"] == 7
    assert one["trailer"] == "00" * 8


@pytest.mark.parametrize("query, expect", [
    ("?fn=" + FN, [2, 1]), ("?fn=" + OTHER_FN, [1]), ("?from=2025-12-01", [1, 2]),
    ("?to=2025-11-30", [1]), ("?from=2025-12-01&to=2025-12-01&fn=" + FN, [2]), ("?limit=1", [1]),
])
def test_filters(client, query, expect):
    docs = client.get("/api/documents" + query).json()["documents"]
    assert [d["fiscalDocumentNumber"] for d in docs] == expect


@pytest.mark.parametrize("query", ["?fn=123", "?from=2025-13-01", "?to=yesterday", "?limit=0", "?limit=99999"])
def test_bad_filters_are_400_with_a_reason(client, query):
    r = client.get("/api/documents" + query)
    assert r.status_code == 400 and r.json()["error"]
    assert client.get("/" + query).status_code == 400


def test_the_page_shows_the_documents_and_is_guarded(client):
    r = client.get("/?fn=" + FN)
    assert r.status_code == 200 and "Кассовый чек" in r.text and "UUID=2ce10bdb" in r.text
    assert OTHER_FN not in r.text.split("</form>")[1]
    assert r.headers["x-frame-options"] == "DENY" and "default-src 'none'" in r.headers["content-security-policy"]
    assert client.get("/api/documents/99").status_code == 404
    assert client.get("/api/documents/x").status_code == 404
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400


def test_a_cross_site_write_is_refused_and_the_app_is_read_only(client):
    r = client.post("/api/documents", headers={"origin": "http://evil.example", "sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    assert client.post("/api/documents", json={}).status_code == 405
