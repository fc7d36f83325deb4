"""Pages and JSON API of the modelled technological server (starlette TestClient)."""

import re
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from emulator.rules.syntax import mask_token
from emulator.servers.techserver.model import TechServer
from emulator.servers.techserver.web import make_app
from tests.seed_examples import SEED_754, SEED_758
from tests.servers.techserver.keys import key_for
from tls_store.lab_ca import LabCA

T0 = 1712141750370  # 03.04.2024 13:55:50 MSK
DAY = 86_400_000
SERIAL = "00106700000001"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload-secret.signature"


class _Pre(HTMLParser):
    """Collects the text of every <pre data-testid="record">, entities decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pres, self._in = [], False

    def handle_starttag(self, tag, attrs):
        if tag == "pre" and ("data-testid", "record") in attrs:
            self._in = True
            self.pres.append("")

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.pres[-1] += data


def pres(html):
    p = _Pre()
    p.feed(html)
    return p.pres


@pytest.fixture(scope="module")
def root_pem():
    return LabCA.create().cert_pem


@pytest.fixture
def model(root_pem):
    m = TechServer(":memory:", root_pem, clock=lambda: T0 + 3 * DAY)
    m.hello(SERIAL, "Меркурий-185Ф", "7701234567", "1.0", T0, key_for(SERIAL))
    m.hello("00106700000002", "Меркурий-119Ф", "7701234567", "1.0", T0 + DAY, key_for("00106700000002"))
    m.store_records(SERIAL, [
        {"seq": 5735, "time_ms": 1712095349413, "code": 754, "text": SEED_754},
        {"seq": 9812, "time_ms": T0, "code": 758, "text": SEED_758},
        {"seq": 9813, "time_ms": T0 + 2 * DAY, "code": 748, "text": "ГИС МТ\t748\t[9813]\n<&> \"x\"\t"},
    ], T0)
    yield m
    m.close()


@pytest.fixture
def client(model):
    with TestClient(make_app(model), base_url="http://127.0.0.1") as c:
        yield c


def test_device_list_page(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert 'data-testid="device-row" data-serial="00106700000001"' in html
    assert "Меркурий-185Ф" in html and "7701234567" in html
    assert "03.04.2024 13:55:50 МСК" in html  # last exchange in Moscow time
    assert "Токен для всех ККТ ИНН" in html and 'type="password"' in html
    assert "смоделированы (MODELLED)" in html and 'data-testid="footer"' in html
    assert "http://" not in html and "https://" not in html  # no external assets


def test_tabs_and_exact_labels(client):
    r = client.get(f"/device/{SERIAL}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/device/{SERIAL}/general"
    general = client.get(f"/device/{SERIAL}/general").text
    for label in ("Общие", "Серверы", "ОТЧЕТЫ", "Запросить и применить на сервере"):
        assert label in general
    assert re.search(r'data-testid="tab-general"[^>]*class="active"', general)
    servers = client.get(f"/device/{SERIAL}/servers").text
    for label in ("Вставить сертификат", "Сохранить и отправить все настройки", 'data-testid="settings-form"'):
        assert label in servers
    assert 'name="token" id="token" data-testid="token-input" type="password"' in servers
    assert client.get("/device/nope/general").status_code == 404
    assert client.get("/device/nope/servers").status_code == 404
    assert client.get("/device/nope/reports").status_code == 404


def test_certificate_flow_with_buttons(client, model):
    r = client.post(f"/device/{SERIAL}/insert-cert", follow_redirects=False)
    assert r.status_code == 303 and "error=" in r.headers["location"]
    page = client.get(r.headers["location"]).text
    assert 'data-kind="error"' in page and "Запросить и применить на сервере" in page
    r = client.post(f"/device/{SERIAL}/request-certs")
    assert r.status_code == 200 and 'data-testid="cert-job-row" data-state="done"' in r.text
    r = client.post(f"/device/{SERIAL}/insert-cert")
    assert 'data-testid="draft-item" data-kind="cert"' in r.text and "kkt-emu lab root CA" in r.text
    r = client.post(f"/device/{SERIAL}/send-all")
    assert 'data-testid="task-row"' in r.text and 'data-state="queued"' in r.text
    assert model.settings_waiting(SERIAL)
    r = client.post(f"/device/{SERIAL}/send-all", follow_redirects=False)
    assert "error=" in r.headers["location"]  # nothing left to send


def test_settings_form_masks_the_token(client, model):
    r = client.post(f"/device/{SERIAL}/settings", data={
        "gismt_host": "markirovka.sandbox.crptech.ru", "sale_ban": "ПРЕДУПРЕЖДЕНИЕ", "option92": "1",
        "poll_period": "10", "token": TOKEN})
    assert r.status_code == 200
    assert TOKEN not in r.text and mask_token(TOKEN) in r.text
    assert "markirovka.sandbox.crptech.ru" in r.text and "92=1" in r.text and "ПРЕДУПРЕЖДЕНИЕ" in r.text
    assert [i.kind for i in model.draft_items(SERIAL)] == ["gismt_host", "sale_ban", "poll_period", "token", "option"]
    client.post(f"/device/{SERIAL}/send-all")
    page = client.get(f"/device/{SERIAL}/servers").text
    assert TOKEN not in page and mask_token(TOKEN) in page
    # a bad field changes nothing
    r = client.post(f"/device/{SERIAL}/settings", data={"gismt_host": "ok.example", "poll_period": "2"},
                    follow_redirects=False)
    assert "error=" in r.headers["location"] and model.draft(SERIAL) == []
    r = client.post(f"/device/{SERIAL}/settings", data={}, follow_redirects=False)
    assert "error=" in r.headers["location"]


def test_token_for_inn_form(client, model):
    r = client.post("/token-for-inn", data={"inn": "7701234567", "token": TOKEN})
    assert r.status_code == 200 and "Токен поставлен в очередь для ККТ: 2" in r.text
    assert TOKEN not in r.text and mask_token(TOKEN) in r.text
    assert len(model.tasks(SERIAL)) == 1
    r = client.post("/token-for-inn", data={"inn": "12", "token": TOKEN}, follow_redirects=False)
    assert "error=" in r.headers["location"]


def test_reports_show_records_exactly(client):
    html = client.get(f"/device/{SERIAL}/reports").text
    assert pres(html) == [SEED_754, SEED_758, "ГИС МТ\t748\t[9813]\n<&> \"x\"\t"]
    assert "&lt;&amp;&gt;" in html  # escaped, not interpreted
    assert "Товар добавляли в чековый буфер с ценой (248р) выше МРЦ (140р)." in html
    assert 'data-testid="download"' in html


def test_reports_filters(client):
    assert [p.split("\t")[1] for p in pres(client.get(f"/device/{SERIAL}/reports?code=758").text)] == ["758"]
    html = client.get(f"/device/{SERIAL}/reports?from=2024-04-03&to=2024-04-03").text
    assert [p.split("\t")[1] for p in pres(html)] == ["754", "758"]  # 754 is 01:02 MSK on 03.04
    assert "reports.txt?from=2024-04-03&amp;to=2024-04-03" in html
    html = client.get(f"/device/{SERIAL}/reports?from=2024-04-04").text
    assert [p.split("\t")[1] for p in pres(html)] == ["748"]
    r = client.get(f"/device/{SERIAL}/reports?from=03.04.2024")
    assert r.status_code == 400 and 'data-kind="error"' in r.text


def test_download_is_utf8_text_with_blank_lines(client):
    r = client.get(f"/device/{SERIAL}/reports.txt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.decode("utf-8") == SEED_754 + "\n\n" + SEED_758 + "\n\n" + "ГИС МТ\t748\t[9813]\n<&> \"x\"\t\n"
    r = client.get(f"/device/{SERIAL}/reports.txt?code=758")
    assert r.content == (SEED_758 + "\n").encode("utf-8")
    assert client.get(f"/device/{SERIAL}/reports.txt?code=999").content == b""
    assert client.get("/device/nope/reports.txt").status_code == 404
    assert client.get(f"/device/{SERIAL}/reports.txt?code=x").status_code == 400


def test_api_devices_and_records(client):
    devs = client.get("/api/devices").json()
    assert [d["serial"] for d in devs] == [SERIAL, "00106700000002"]
    assert devs[0]["last_exchange_msk"] == "03.04.2024 13:55:50"
    one = client.get(f"/api/devices/{SERIAL}").json()
    assert one["settings_waiting"] is False and one["draft"] == []
    recs = client.get(f"/api/devices/{SERIAL}/records").json()
    assert [r["text"] for r in recs] == [SEED_754, SEED_758, "ГИС МТ\t748\t[9813]\n<&> \"x\"\t"]
    assert [r["seq"] for r in client.get(f"/api/devices/{SERIAL}/records?code=754").json()] == [5735]
    assert [r["seq"] for r in client.get(f"/api/devices/{SERIAL}/records?to=2024-04-03").json()] == [5735, 9812]
    assert client.get(f"/api/devices/{SERIAL}/records?to=bad").status_code == 400
    r = client.get("/api/devices/nope/records")
    assert r.status_code == 404 and "nope" in r.json()["error"]


def test_api_certificate_and_settings_flow(client, model):
    assert client.post(f"/api/devices/{SERIAL}/insert-cert").status_code == 400
    r = client.post(f"/api/devices/{SERIAL}/request-certs").json()
    assert r["state"] == "done" and r["job_id"] == 1
    assert client.get(f"/api/devices/{SERIAL}/cert-jobs").json()[0]["certificates"] == 1
    r = client.post(f"/api/devices/{SERIAL}/insert-cert").json()
    assert r["added"] == 1 and r["draft"][0]["kind"] == "cert"
    r = client.post(f"/api/devices/{SERIAL}/settings", json={"kind": "token", "value": TOKEN})
    assert r.status_code == 200 and r.json()[1] == {"kind": "token", "value": mask_token(TOKEN)}
    r = client.post(f"/api/devices/{SERIAL}/settings", json={"items": [
        {"kind": "option", "value": "92=1"}, {"kind": "sale_ban", "value": "ВКЛЮЧЕН"}]})
    assert [i["kind"] for i in r.json()] == ["cert", "token", "option", "sale_ban"]
    assert client.post(f"/api/devices/{SERIAL}/settings", json={"kind": "option", "value": "92=5"}).status_code == 400
    assert client.post(f"/api/devices/{SERIAL}/settings", json=[1]).status_code == 400
    assert client.post(f"/api/devices/{SERIAL}/settings", content=b"{bad").status_code == 400
    assert client.get(f"/api/devices/{SERIAL}/settings").json()[1]["value"] == mask_token(TOKEN)
    task_id = client.post(f"/api/devices/{SERIAL}/send-all").json()["task_id"]
    tasks = client.get(f"/api/devices/{SERIAL}/tasks").json()
    assert tasks[0]["id"] == task_id and tasks[0]["state"] == "queued"
    assert TOKEN not in str(tasks) and mask_token(TOKEN) in str(tasks)
    assert client.post(f"/api/devices/{SERIAL}/send-all").status_code == 400
    client.post(f"/api/devices/{SERIAL}/settings", json={"kind": "poll_period", "value": 30})
    assert client.delete(f"/api/devices/{SERIAL}/settings").json() == []
    assert client.post("/api/devices/nope/send-all").status_code == 404


def test_api_token_for_inn(client, model):
    r = client.post("/api/token-for-inn", json={"inn": "7701234567", "token": TOKEN})
    assert r.status_code == 200 and len(r.json()["task_ids"]) == 2
    listing = client.get("/api/inn-tokens").json()
    assert listing == [{"inn": "7701234567", "token": mask_token(TOKEN), "created_ms": T0 + 3 * DAY,
                        "created_msk": "06.04.2024 13:55:50"}]
    assert client.post("/api/token-for-inn", json={"inn": "7701234567", "token": "x"}).status_code == 400
    for serial in (SERIAL, "00106700000002"):
        assert TOKEN not in client.get(f"/api/devices/{serial}/tasks").text


@pytest.mark.parametrize("url", [
    f"/api/devices/{SERIAL}/records?code=99999999999999999999",
    f"/api/devices/{SERIAL}/records?code=²",
    f"/api/devices/{SERIAL}/records?to=9999-12-31",
    f"/api/devices/{SERIAL}/records?from=0001-01-01",
    f"/api/devices/{SERIAL}/records?from=2024-4-3",
])
def test_bad_filters_are_400_on_the_api_the_page_and_the_download(client, url):
    r = client.get(url)
    assert r.status_code == 400 and r.json()["error"]
    query = url.split("?", 1)[1]
    assert client.get(f"/device/{SERIAL}/reports?{query}").status_code == 400
    assert client.get(f"/device/{SERIAL}/reports.txt?{query}").status_code == 400


def test_json_nested_too_deep_is_400(client, model):
    r = client.post(f"/api/devices/{SERIAL}/settings", content=b"[" * 100000,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and model.draft(SERIAL) == []


@pytest.mark.parametrize("body", [
    {"items": 5}, {"items": "x"}, {"items": [5]}, {"kind": "cert", "value": "сертификат"},
    {"kind": "cert", "value": "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"},
    {"kind": "cert", "value": "0garbage"}, {"kind": "poll_period", "value": "²"},
    {"kind": "poll_period", "value": ["5"]}, {"kind": "token", "value": {"a": 1}},
])
def test_bad_settings_are_400_and_change_nothing(client, model, body):
    before = model.draft(SERIAL)
    r = client.post(f"/api/devices/{SERIAL}/settings", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]
    assert model.draft(SERIAL) == before


def test_bad_form_fields_come_back_as_a_message(client, model):
    r = client.post(f"/device/{SERIAL}/settings", data={"poll_period": "²"}, follow_redirects=False)
    assert r.status_code == 303 and "error=" in r.headers["location"]
    assert model.draft(SERIAL) == []


def test_writes_from_another_site_are_refused(client, model):
    evil = {"Origin": "http://evil.example"}
    r = client.post(f"/api/devices/{SERIAL}/settings", content=b'{"kind":"option","value":"92=1"}',
                    headers={**evil, "Content-Type": "text/plain"})
    assert r.status_code == 403
    r = client.post(f"/device/{SERIAL}/send-all", headers=evil, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/token-for-inn", data={"inn": "7701234567", "token": TOKEN},
                    headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert r.status_code == 403
    # a form post with no Origin that claims to be plain text is not JSON: refused as well
    r = client.post(f"/api/devices/{SERIAL}/settings", content=b'{"kind":"option","value":"92=1"}',
                    headers={"Content-Type": "text/plain"})
    assert r.status_code == 403
    assert model.draft(SERIAL) == [] and model.tasks(SERIAL) == [] and model.inn_tokens() == []
    # the pages' own origin, and scripts sending JSON, are served
    own = {"Origin": "http://127.0.0.1"}
    r = client.post(f"/api/devices/{SERIAL}/settings", json={"kind": "option", "value": "92=1"}, headers=own)
    assert r.status_code == 200
    r = client.post(f"/device/{SERIAL}/send-all", headers={**own, "Sec-Fetch-Site": "same-origin"},
                    follow_redirects=False)
    assert r.status_code == 303 and len(model.tasks(SERIAL)) == 1


def test_a_host_name_the_server_is_not_known_by_is_refused(model):
    # DNS rebinding: another site's name pointed at this machine; its pages would be same-origin.
    with TestClient(make_app(model), base_url="http://evil.test:8080") as c:
        r = c.post(f"/api/devices/{SERIAL}/settings", json={"kind": "option", "value": "92=1"},
                   headers={"Origin": "http://evil.test:8080"})
        assert r.status_code == 400
        assert c.get("/").status_code == 400
    assert model.draft(SERIAL) == []
    with TestClient(make_app(model, ("kassa.lan",)), base_url="http://kassa.lan:8080") as c:
        assert c.get("/").status_code == 200
    with TestClient(make_app(model), base_url="http://localhost:8080") as c:
        assert c.get("/").status_code == 200


@pytest.mark.parametrize("raw", [b"{not json", b"[" * 100000, b"\xff\xfe"])
def test_refusals_never_carry_internal_exception_texts(client, model, raw):
    r = client.post(f"/api/devices/{SERIAL}/settings", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    error = r.json()["error"]
    for internal in ("Error", "Exception", "Traceback", "char ", "codec", "recursion"):
        assert internal not in error, error
    assert model.draft(SERIAL) == []
