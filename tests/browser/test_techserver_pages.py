"""The technological server's pages (MODELLED) in a real headless Chromium, as a person uses them.

Each test runs the real app (``make_app``) under uvicorn on loopback over a fresh
``TechServer`` in a SQLite file, seeded with three devices (two INNs) and log
records: the vendor's two worked examples as the device's ``Logbook`` writes
them, and others with different codes and dates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.devices.kkt.logbook import NO_EXPIRY, Logbook
from emulator.rules.syntax import mask_token
from emulator.servers.techserver.model import TechServer, pem_to_der_list
from emulator.servers.techserver.web import make_app
from tests.browser.conftest import serve
from tests.seed_examples import SEED_754, SEED_758
from tests.servers.techserver.keys import key_for
from tls_store.lab_ca import LabCA

T0 = 1712141750370            # 03.04.2024 13:55:50.370 MSK (the 758 example's request time)
DAY = 86_400_000
NOW = T0 + 3 * DAY            # the model's clock: 06.04.2024 13:55:50 MSK
INN_A, INN_B = "7701234567", "770123456789"
A1, A2, B1 = "00106700000001", "00106700000002", "00107800000003"
B1_LAST = 1712269800000       # 04.04.2024 22:30:00 UTC = 05.04.2024 01:30:00 MSK (another date in Moscow)
TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload-secret-0123456789.signature"
TOKEN_INN = "inn-token-SECRET-abcdefghijklmnop.qrstuvwxyz"

# Not written by a device: markup and a trailing tab, to see that the page escapes and keeps them.
ODD = "ГИС МТ\t999\t[9900]\n<b>&amp;</b>  two  spaces\t"


def _device_records() -> list[Any]:
    """A1's records as its logbook writes them (seq order differs from time order, as the vendor's do)."""
    book = Logbook(None, first_seq=5735)
    try:
        r754 = book.append(time_ms=1712095349413, code=754, flags=(True, True, True, True, False, False, False),
                           price=16000, max_price=16000, min_price=12900, expiry_s=NO_EXPIRY, tag2106=15,
                           elapsed_ms=437, req_id="abc95c24-283b-4783-868d-d605fcb4cf60",
                           req_timestamp=1712095349413)
        book.set_next_seq(9812)
        r758 = book.append(time_ms=T0, code=758, flags=(True, True, True, False, False, True, False),
                           price=24800, max_price=14000, min_price=12900, expiry_s=NO_EXPIRY, tag2106=15,
                           elapsed_ms=523, req_id="4ac3d96d-df56-4d56-8d97-a22006848d48", req_timestamp=T0)
        # 04.04 and 05.04 (MSK): a missing answer (MODELLED: flags '-', no UUID) and a 768
        r748 = book.append(time_ms=T0 + DAY, code=748, flags=(None,) * 7, price=24800, max_price=0, min_price=0,
                           expiry_s=NO_EXPIRY, tag2106=0, elapsed_ms=1500, req_id="", req_timestamp=None)
        r768 = book.append(time_ms=T0 + 2 * DAY, code=768, flags=(True, True, True, False, True, True, False),
                           price=24800, max_price=0, min_price=0, expiry_s=NO_EXPIRY, tag2106=0, elapsed_ms=211,
                           req_id="0f1e2d3c-4b5a-4697-8877-665544332211", req_timestamp=T0 + 2 * DAY)
    finally:
        book.close()
    assert (r754.text, r758.text) == (SEED_754, SEED_758)
    return [r754, r758, r748, r768]


@pytest.fixture(scope="module")
def root_pem() -> bytes:
    return LabCA.create().cert_pem


@pytest.fixture
def model(tmp_path: Any, root_pem: bytes) -> Iterator[TechServer]:
    m = TechServer(tmp_path / "techserver.sqlite", root_pem, clock=lambda: NOW)
    m.hello(A1, "Меркурий-185Ф", INN_A, "1.0", T0 - 60_000, key_for(A1))
    m.hello(A2, "Меркурий-119Ф", INN_A, "1.0", T0 - DAY, key_for(A2))
    m.hello(B1, "Меркурий-115Ф", INN_B, "2.1", T0, key_for(B1))
    m.store_records(A1, _device_records(), T0)
    m.store_records(A1, [{"seq": 9900, "time_ms": T0 + 2 * DAY + 1, "code": 999, "text": ODD}], T0)
    m.store_records(B1, [{"seq": 1, "time_ms": T0, "code": 758, "text": SEED_758.replace("[9812]", "[1]")}],
                    B1_LAST)
    yield m
    m.close()


@pytest.fixture
def site(model: TechServer, new_page: Any) -> Iterator[tuple[str, Any]]:
    with serve(make_app(model)) as base:
        yield base, new_page(base)


def shot(page: Any, artefacts: Any, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def flash(page: Any) -> tuple[str, str]:
    f = page.get_by_test_id("flash")
    return f.get_attribute("data-kind"), f.inner_text()


def all_page_texts(page: Any, base: str) -> dict[str, str]:
    """HTML and visible text of every page and API listing of every device."""
    out = {}
    urls = ["/", "/api/devices", "/api/inn-tokens"]
    for s in (A1, A2, B1):
        urls += [f"/device/{s}/{tab}" for tab in ("general", "servers", "reports")]
        urls += [f"/api/devices/{s}", f"/api/devices/{s}/settings", f"/api/devices/{s}/tasks",
                 f"/api/devices/{s}/records"]
    for u in urls:
        assert page.goto(base + u).status == 200, u
        out[u] = page.content() + "\n" + page.inner_text("body")
    return out


# ------------------------------------------------------------------ 1. the device list
def test_device_list(site: Any, artefacts: Any) -> None:
    base, page = site
    assert page.goto(base + "/").status == 200
    assert page.title() == "Список ККТ — модель"
    rows = page.get_by_test_id("device-row")
    assert [rows.nth(i).get_attribute("data-serial") for i in range(rows.count())] == [A1, A2, B1]
    cells = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]
    # serial, model, INN, firmware, last exchange in Moscow time
    assert cells == [
        [A1, "Меркурий-185Ф", INN_A, "1.0", "03.04.2024 13:55:50 МСК"],
        [A2, "Меркурий-119Ф", INN_A, "1.0", "02.04.2024 13:55:50 МСК"],
        [B1, "Меркурий-115Ф", INN_B, "2.1", "05.04.2024 01:30:00 МСК"],
    ]
    headers = page.locator("#devices th").all_inner_texts()
    assert headers == ["Заводской номер", "Модель", "ИНН", "Прошивка", "Последний обмен (МСК)"]
    assert "MODELLED" in page.get_by_test_id("footer").inner_text()
    shot(page, artefacts, "01-index")
    page.get_by_role("link", name=B1).click()
    page.wait_for_url(f"{base}/device/{B1}/general")
    assert page.get_by_test_id("last-exchange").inner_text() == "05.04.2024 01:30:00 МСК"


# ------------------------------------------------------------------ 2. the vendor's certificate procedure
def test_certificate_procedure(site: Any, model: TechServer, root_pem: bytes, artefacts: Any) -> None:
    base, page = site
    page.goto(base + "/")
    page.get_by_role("link", name=A1).click()
    page.wait_for_url(f"{base}/device/{A1}/general")
    assert page.get_by_test_id("tab-general").get_attribute("class") == "active"
    assert page.get_by_test_id("cert-jobs").count() == 0

    page.get_by_role("button", name="Запросить и применить на сервере").click()
    page.wait_for_url(re.compile(r"/general\?ok="))
    kind, text = flash(page)
    assert kind == "ok" and re.fullmatch(r"Задача \d+: сертификаты подготовлены на сервере", text), text
    job = page.get_by_test_id("cert-job-row")
    assert job.count() == 1 and job.get_attribute("data-state") == "done"
    assert job.locator("td").all_inner_texts()[2:] == ["1", "завершена"]
    shot(page, artefacts, "02-general")

    page.get_by_role("link", name="Серверы").click()
    page.wait_for_url(f"{base}/device/{A1}/servers")
    assert page.get_by_test_id("tab-servers").get_attribute("class") == "active"
    assert page.get_by_test_id("draft-empty").is_visible() and page.get_by_test_id("tasks-empty").is_visible()

    page.get_by_role("button", name="Вставить сертификат").click()
    page.wait_for_url(re.compile(r"/servers\?ok="))
    assert flash(page) == ("ok", "Сертификаты вставлены в настройки: 1")
    item = page.get_by_test_id("draft-item")
    assert item.count() == 1 and item.get_attribute("data-kind") == "cert"
    assert "CN=kkt-emu lab root CA" in item.inner_text()

    page.get_by_role("button", name="Сохранить и отправить все настройки").click()
    page.wait_for_url(re.compile(r"/servers\?ok="))
    kind, text = flash(page)
    m = re.fullmatch(r"Задача (\d+) поставлена в очередь: ККТ получит настройки при следующем обмене", text)
    assert kind == "ok" and m, text
    task_id = int(m.group(1))
    row = page.get_by_test_id("task-row")
    assert row.count() == 1
    assert row.get_attribute("data-task-id") == str(task_id) and row.get_attribute("data-state") == "queued"
    assert row.get_by_test_id("task-state").inner_text() == "в очереди"
    assert "Сертификат TLS: сертификат DER" in row.inner_text()
    assert page.get_by_test_id("draft-empty").is_visible()  # the draft became the task
    shot(page, artefacts, "03-servers")

    # the same through the model
    [task] = model.tasks(A1)
    assert task.id == task_id and task.state == "queued" and task.origin == "Сохранить и отправить все настройки"
    assert [(i.kind, i.value) for i in task.items] == [("cert", pem_to_der_list(root_pem)[0])]
    assert model.settings_waiting(A1) and model.draft(A1) == []
    assert model.tasks(A2) == [] and model.tasks(B1) == []

    # sending again: nothing left, the page says so and queues nothing
    page.get_by_role("button", name="Сохранить и отправить все настройки").click()
    page.wait_for_url(re.compile(r"/servers\?error="))
    assert flash(page) == ("error", "нет настроек для отправки")
    assert len(model.tasks(A1)) == 1


# ------------------------------------------------------------------ 3. the settings form; the token stays hidden
def test_settings_form_never_shows_the_token(site: Any, model: TechServer, artefacts: Any) -> None:
    base, page = site
    page.goto(f"{base}/device/{A1}/servers")
    token_input = page.get_by_test_id("token-input")
    assert token_input.get_attribute("type") == "password"
    page.get_by_label("Имя хоста ГИС МТ").fill("markirovka.sandbox.crptech.ru")
    token_input.fill(TOKEN)
    page.get_by_role("button", name="Записать в настройки").click()
    page.wait_for_url(re.compile(r"/servers\?ok="))
    assert flash(page) == ("ok", "Записано настроек: 2")
    items = page.get_by_test_id("draft-item")
    shown = {items.nth(i).get_attribute("data-kind"): items.nth(i).get_by_test_id("draft-value").inner_text()
             for i in range(items.count())}
    assert shown == {"gismt_host": "markirovka.sandbox.crptech.ru", "token": mask_token(TOKEN)}
    assert page.get_by_test_id("token-input").input_value() == ""  # never filled back in
    shot(page, artefacts, "04-servers-settings")
    # the model keeps the real token for the device
    assert {i.kind: i.value for i in model.draft_items(A1)} == {
        "gismt_host": "markirovka.sandbox.crptech.ru", "token": TOKEN}

    page.get_by_role("button", name="Сохранить и отправить все настройки").click()
    page.wait_for_url(re.compile(r"/servers\?ok="))
    assert page.get_by_test_id("task-row").inner_text().count(mask_token(TOKEN)) == 1

    # a bad field changes nothing
    page.get_by_label("Имя хоста ГИС МТ").fill("bad host!")
    page.get_by_test_id("token-input").fill(TOKEN)
    page.get_by_role("button", name="Записать в настройки").click()
    page.wait_for_url(re.compile(r"/servers\?error="))
    assert flash(page)[0] == "error" and model.draft(A1) == []

    texts = all_page_texts(page, base)
    for url, text in texts.items():
        assert TOKEN not in text, url
        assert TOKEN[8:-8] not in text, url  # not even its middle
    assert mask_token(TOKEN) in texts[f"/device/{A1}/servers"]


# ------------------------------------------------------------------ 4. «ОТЧЕТЫ»
def test_reports_filters_and_download(site: Any, model: TechServer, artefacts: Any) -> None:
    base, page = site
    page.goto(f"{base}/device/{A1}/general")
    page.get_by_role("link", name="ОТЧЕТЫ").click()
    page.wait_for_url(f"{base}/device/{A1}/reports")
    assert page.get_by_test_id("tab-reports").get_attribute("class") == "active"
    recs = page.get_by_test_id("record")
    all_texts = [r.text for r in model.records(A1)]
    assert len(all_texts) == 5 and all_texts[:2] == [SEED_754, SEED_758]
    # exactly as written: tabs, line breaks, markup and trailing whitespace kept in the rendered <pre>
    assert recs.all_inner_texts() == all_texts
    assert recs.evaluate_all("els => els.map(e => e.textContent)") == all_texts
    assert page.locator("pre.record b").count() == 0  # markup shown, not interpreted
    assert page.get_by_test_id("records-count").inner_text() == "Записей: 5"
    explains = page.get_by_test_id("record-explain").all_inner_texts()
    assert "Товар добавляли в чековый буфер с ценой (248р) выше МРЦ (140р)." in explains[1]
    # rendered, not only kept in the DOM: line 2 of the 754 record is below line 1 and starts two tabs in
    first, after_tabs = recs.first.evaluate("""e => { const t = e.firstChild, box = (i) => {
        const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + 1); const b = r.getBoundingClientRect();
        return [b.left, b.top]; };
        return [box(0), box(t.data.indexOf('\\n') + 3)]; }""")
    assert after_tabs[1] > first[1] and after_tabs[0] - first[0] > 60, (first, after_tabs)
    shot(page, artefacts, "05-reports")

    # the codes offered are the device's own
    assert page.get_by_test_id("filter-code").locator("option").evaluate_all(
        "os => os.map(o => o.value)") == ["", "748", "754", "758", "768", "999"]

    # filter by code 758
    page.get_by_test_id("filter-code").select_option("758")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url(f"{base}/device/{A1}/reports?code=758&from=&to=")
    assert recs.all_inner_texts() == [SEED_758]
    assert page.get_by_test_id("filter-code").input_value() == "758"
    with page.expect_download() as dl:
        page.get_by_test_id("download").click()
    d = dl.value
    assert d.suggested_filename == f"reports_{A1}.txt"
    assert d.path().read_bytes() == (SEED_758 + "\n").encode("utf-8")

    # date filter (Moscow dates): 03.04 holds the two worked examples (754 is 01:02 MSK, 22:02 UTC the day before)
    page.get_by_test_id("filter-code").select_option("")
    page.get_by_label("С даты (МСК)").fill("2024-04-03")
    page.get_by_label("По дату (МСК)").fill("2024-04-03")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url(re.compile(r"from=2024-04-03&to=2024-04-03"))
    assert recs.all_inner_texts() == [SEED_754, SEED_758]
    page.get_by_label("С даты (МСК)").fill("2024-04-04")
    page.get_by_label("По дату (МСК)").fill("")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url(re.compile(r"from=2024-04-04"))
    later = [r.text for r in model.records(A1) if r.code in (748, 768, 999)]
    assert recs.all_inner_texts() == later
    assert page.get_by_label("С даты (МСК)").input_value() == "2024-04-04"

    # the download link carries the filter; the file is the records as written, a blank line between them
    with page.expect_download() as dl:
        page.get_by_test_id("download").click()
    assert dl.value.path().read_bytes() == ("\n\n".join(later) + "\n").encode("utf-8")

    # a date with no records
    page.get_by_label("С даты (МСК)").fill("2024-05-01")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url(re.compile(r"from=2024-05-01"))
    assert recs.count() == 0 and page.get_by_test_id("records-count").inner_text() == "Записей: 0"

    # everything, downloaded: byte for byte what the device wrote
    page.goto(f"{base}/device/{A1}/reports")
    with page.expect_download() as dl:
        page.get_by_test_id("download").click()
    assert dl.value.path().read_bytes() == ("\n\n".join(all_texts) + "\n").encode("utf-8")

    # another device's reports hold only its own record
    page.goto(f"{base}/device/{B1}/reports")
    assert recs.all_inner_texts() == [SEED_758.replace("[9812]", "[1]")]


# ------------------------------------------------------------------ 5. «Токен для всех ККТ ИНН»
def test_token_for_inn(site: Any, model: TechServer, artefacts: Any) -> None:
    base, page = site
    page.goto(base + "/")
    assert page.get_by_test_id("inn-token-input").get_attribute("type") == "password"
    # the browser itself refuses an INN that is not 10 or 12 digits
    page.get_by_label("ИНН", exact=True).fill("12345")
    page.get_by_test_id("inn-token-input").fill(TOKEN_INN)
    page.get_by_role("button", name="Разослать токен во все ККТ ИНН").click()
    assert page.get_by_test_id("inn-input").evaluate("e => e.validity.patternMismatch") is True
    assert page.url == base + "/" and model.inn_tokens() == []

    page.get_by_label("ИНН", exact=True).fill(INN_A)
    page.get_by_role("button", name="Разослать токен во все ККТ ИНН").click()
    page.wait_for_url(re.compile(r"/\?ok="))
    assert flash(page) == ("ok", "Токен поставлен в очередь для ККТ: 2")
    row = page.get_by_test_id("inn-token-row")
    assert row.count() == 1
    assert row.locator("td").all_inner_texts() == [INN_A, mask_token(TOKEN_INN), "06.04.2024 13:55:50"]
    shot(page, artefacts, "06-index-inn-token")

    # the model: one task with the real token for each device of INN_A, none for INN_B
    for serial in (A1, A2):
        [task] = model.tasks(serial)
        assert task.state == "queued" and task.origin == f"token for INN {INN_A}"
        assert [(i.kind, i.value) for i in task.items] == [("token", TOKEN_INN)]
    assert model.tasks(B1) == []

    # the pages: each device's «Серверы» shows it (masked); the other INN's device has no task
    for serial in (A1, A2):
        page.goto(f"{base}/device/{serial}/servers")
        row = page.get_by_test_id("task-row")
        assert row.count() == 1 and row.get_attribute("data-state") == "queued"
        assert f"Токен: {mask_token(TOKEN_INN)}" in row.inner_text()
    page.goto(f"{base}/device/{B1}/servers")
    assert page.get_by_test_id("task-row").count() == 0 and page.get_by_test_id("tasks-empty").is_visible()

    for url, text in all_page_texts(page, base).items():
        assert TOKEN_INN not in text, url
