"""Reports and paper over real HTTP: the X-report (10), the service report (5), the consolidated reports
(12, 13), the print forms, ``/dm/execute-prn`` with a real printer on loopback (faults, the drawer), and the
printer tasks. The fiscal documents are rows of the DM's copy (``store.docs``) as the fiscal tasks store them."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from emulator.fronts.dm import manager
from emulator.fronts.dm.envelope import KYIV, Answer
from emulator.fronts.dm.errors import text
from emulator.fronts.dm.manager import Context
from emulator.fronts.dm.receipt import Pay
from emulator.fronts.dm.reports import DOC_KINDS
from emulator.net.printforms import decode_data_uri
from emulator.world.dm import DmWorld
from tests.fronts.dm import dm_docs
from tests.fronts.dm.dm_docs import body, bread

START_MS = 1_767_261_600_000          # 2026-01-01 12:00 Kyiv
_names = itertools.count(1)


@pytest.fixture(scope="module")
def world() -> Iterator[DmWorld]:
    with DmWorld(start_ms=START_MS) as w:
        w.add_printer("prn")
        w.add_printer("Printer")
        yield w


@pytest.fixture(scope="module")
def client(world: DmWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.http(), timeout=30) as c:
        yield c


@pytest.fixture
def kasa(world: DmWorld) -> str:
    """A fresh ПРРО for each test (its own shift and documents)."""
    name = f"kasa{next(_names)}"
    world.add_prro(name)
    return name


@pytest.fixture
def printer(world: DmWorld) -> Iterator[Any]:
    model = world.printers["prn"][0]
    yield model
    for fault in ("paper_out", "cover_open", "offline", "paper_low"):
        model.set_fault(fault, False)
    model.set_fault("slow", 0)
    model.close_drawer()


def post(client: httpx.Client, data: object, path: str = "/dm/execute") -> dict:
    r = client.post(path, content=json.dumps(data).encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    return r.json()


def pf_text(answer: dict) -> str:
    mime, raw = decode_data_uri(answer["pf_text"])
    assert mime == "text/plain;charset=windows-1251"
    return raw.decode("cp1251")


# ------------------------------------------------------------------ task 10
def test_x_report_with_the_shift_closed_is_1081(client: httpx.Client, kasa: str, world: DmWorld) -> None:
    before = world.dm.store.digest()
    got = post(client, body(kasa, 10))
    assert (got["res"], got["errortxt"]) == (1081, text(1081, group="prro"))
    assert world.dm.store.digest() == before


def test_x_report_totals_the_open_shift_and_changes_nothing(client: httpx.Client, kasa: str,
                                                            world: DmWorld) -> None:
    shift = dm_docs.open_shift(world, kasa)
    dm_docs.sale(world, kasa, shift, [bread(5000, 2000)], [Pay(0, 10000)])
    dm_docs.sale(world, kasa, shift, [bread(3000)], [Pay(2, 3000)])
    dm_docs.sale(world, kasa, shift, [bread(1000)], [Pay(0, 1000)], kind="return")
    dm_docs.cash(world, kasa, shift, 20000)
    dev = world.dm.find(kasa).device  # type: ignore[union-attr]
    before, device_before = world.dm.store.digest(), dev.state()
    got = post(client, body(kasa, 10, cashier="Марія"))
    assert got["res"] == 0 and got["task"] == 10
    info = got["info"]
    assert info["receipt"]["count_p"] == 2 and info["receipt"]["count_m"] == 1
    assert info["summary"]["base_p"] == 130.0 and info["summary"]["base_m"] == 10.0
    assert info["summary"]["taxex_p"] == 21.67
    assert {p["type"]: (p["sum_p"], p["sum_m"]) for p in info["pays"]} == {0: (100.0, 10.0), 2: (30.0, 0.0)}
    assert info["money"][0]["sum_p"] == 200.0 and info["safe"] == 290.0
    assert (info["shift_link"], info["cashier"], info["isoffline"], info["isprint"]) == (shift, "Марія", 0, 0)
    assert type(info["isoffline"]) is int           # 0/1 as every other task answers it, not a boolean
    assert info["fisid"] == dev.identity.fiscal_num and info["doccode"] == ""
    # nothing closed, nothing sent, nothing stored
    assert world.dm.store.digest() == before and dev.state() == device_before and dev.shift["open"]


def test_x_report_carries_the_till_of_the_previous_shift(client: httpx.Client, kasa: str, world: DmWorld) -> None:
    first = dm_docs.open_shift(world, kasa)
    dm_docs.cash(world, kasa, first, 50000)
    dm_docs.z_report(world, kasa, first)
    dm_docs.close_shift(world, kasa)
    second = dm_docs.open_shift(world, kasa)
    dm_docs.sale(world, kasa, second, [bread(2500)], [Pay(0, 2500)])
    info = post(client, body(kasa, 10))["info"]
    assert (info["safe_start_shift"], info["safe"], info["shift_link"]) == (500.0, 525.0, second)


# ------------------------------------------------------------------ task 5
def test_service_report_lines_come_back_as_print_forms(client: httpx.Client, kasa: str) -> None:
    lines = [{"t": "Перевірка реквізитів"}, {"t": "рядок 1\\nрядок 2"}, {"t": "4820000000000", "qr_type": 1},
             {"t": "ABC-128", "qr_type": "2"}, {"t": "https://example.invalid/q", "qr_type": 100}]
    got = post(client, {**body(kasa, 5, lines=lines), "need_pf_txt": 1, "need_pf_img": 1, "need_pf_pdf": 1})
    assert got["res"] == 0 and got["info"]["isprint"] == 0
    txt = pf_text(got)
    for want in ("ТОВ «Тестова крамниця»", "Перевірка реквізитів", "рядок 1\r\nрядок 2", "4820000000000",
                 "ABC-128", "https://example.invalid/q", "НЕФІСКАЛЬНИЙ ДОКУМЕНТ"):
        assert want in txt
    assert decode_data_uri(got["pf_image"])[1].startswith(b"\x89PNG")
    assert decode_data_uri(got["pf_pdf"])[1].startswith(b"%PDF")


def test_service_report_without_forms_asked_has_none(client: httpx.Client, kasa: str) -> None:
    got = post(client, body(kasa, 5, lines=[{"t": "x"}]))
    assert got["res"] == 0 and not {"pf_text", "pf_image", "pf_pdf"} & set(got)


@pytest.mark.parametrize("lines", [[{"t": "4820000000001", "qr_type": 1}], [{"t": "x", "qr_type": 7}],
                                   [{"t": 5}], "lines", [{"t": "Код", "qr_type": 2}]])
def test_service_report_lines_that_make_no_receipt_are_2000(client: httpx.Client, kasa: str, world: DmWorld,
                                                            lines: Any) -> None:
    before = world.dm.store.digest()
    got = post(client, body(kasa, 5, lines=lines))
    assert (got["res"], got["res_action"], got["errortxt"]) == (2000, 3, text(2000, group="prro"))
    assert world.dm.store.digest() == before


def test_service_report_prints_on_execute_prn(client: httpx.Client, kasa: str, printer: Any) -> None:
    n = len(printer.documents)
    got = post(client, body(kasa, 5, lines=[{"t": "Друк на принтер"}]), "/dm/execute-prn")
    assert got["res"] == 0 and got["info"]["isprint"] == 1 and got["warnings"] == []
    assert len(printer.documents) == n + 1 and "Друк на принтер" in printer.documents[-1].text()


# ------------------------------------------------------------------ tasks 12, 13
def _kyiv_ms(y: int, m: int, d: int, hh: int = 12, mm: int = 0, ss: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, ss, tzinfo=KYIV).astimezone(UTC).timestamp() * 1000)


def three_shifts(world: DmWorld, kasa: str) -> list[int]:
    """Shifts 1-3, each with a sale of 10 / 20 / 30 UAH, closed on 1, 2 and 3 January (Kyiv) at 23:59:59,
    00:00:00 and 12:00."""
    nums = []
    for i, when in enumerate((_kyiv_ms(2026, 1, 1, 23, 59, 59), _kyiv_ms(2026, 1, 2, 0, 0, 0),
                              _kyiv_ms(2026, 1, 3)), 1):
        s = dm_docs.open_shift(world, kasa)
        dm_docs.sale(world, kasa, s, [bread(1000 * i)], [Pay(0, 1000 * i)])
        dm_docs.z_report(world, kasa, s, time_ms=when)
        dm_docs.close_shift(world, kasa)
        nums.append(s)
    return nums


def test_by_numbers_adds_the_range_and_lists_its_reports(client: httpx.Client, kasa: str, world: DmWorld) -> None:
    nums = three_shifts(world, kasa)
    got = post(client, {**body(kasa, 12, n_from=str(nums[1]), n_to=nums[2]), "need_pf_txt": 1})
    assert got["res"] == 0
    info = got["info"]
    assert [r["shift_no"] for r in info["reports"]] == nums[1:] and info["count"] == 2
    assert info["summary"]["base_p"] == 50.0 and info["receipt"]["count_p"] == 2
    assert info["pays"][0]["sum_p"] == 50.0 and info["reports"][0]["summary"]["base_p"] == 20.0
    assert (info["n_from"], info["n_to"], info["is_short"]) == (nums[1], nums[2], False)
    txt = pf_text(got)
    assert "ЗВЕДЕНИЙ ЗВІТ ЗА НОМЕРАМИ" in txt and f"Z-звіт № {nums[2]}" in txt


def test_by_numbers_short_has_no_per_shift_sums(client: httpx.Client, kasa: str, world: DmWorld) -> None:
    nums = three_shifts(world, kasa)
    info = post(client, body(kasa, 12, n_from=nums[0], n_to=nums[2], is_short=True))["info"]
    assert info["is_short"] is True and info["summary"]["base_p"] == 60.0
    assert [sorted(r) for r in info["reports"]] == [["date", "doccode", "docno", "dt", "shift_no"]] * 3


@pytest.mark.parametrize("span", [(50, 60), (3, 1)])
def test_by_numbers_an_empty_or_reversed_range_is_1059(client: httpx.Client, kasa: str, world: DmWorld,
                                                         span: tuple[int, int]) -> None:
    three_shifts(world, kasa)
    got = post(client, body(kasa, 12, n_from=span[0], n_to=span[1]))
    assert (got["res"], got["errortxt"]) == (1059, text(1059, group="prro"))


def test_a_damaged_report_in_the_range_is_1060(client: httpx.Client, kasa: str, world: DmWorld) -> None:
    nums = three_shifts(world, kasa)
    s = dm_docs.open_shift(world, kasa)
    dm_docs.z_report(world, kasa, s, totals={"receipt": "garbled"})
    got = post(client, body(kasa, 12, n_from=nums[0], n_to=s))
    assert (got["res"], got["errortxt"]) == (1060, text(1060, group="prro"))
    # outside the damaged one the range still works
    assert post(client, body(kasa, 12, n_from=nums[0], n_to=nums[2]))["res"] == 0


@pytest.mark.parametrize("span, days", [(("20260101", "20260101"), [1]), (("01.01.2026", "02.01.2026"), [1, 2]),
                                        (("2026-01-02", "2026-01-03"), [2, 3]),
                                        (("20260102000000", "20260103235959"), [2, 3]),
                                        (("20260103", "20260131"), [3])])
def test_by_dates_takes_whole_days_both_included(client: httpx.Client, kasa: str, world: DmWorld,
                                                 span: tuple[str, str], days: list[int]) -> None:
    nums = three_shifts(world, kasa)
    got = post(client, body(kasa, 13, dt_from=span[0], dt_to=span[1]))
    assert got["res"] == 0, got
    assert [r["shift_no"] for r in got["info"]["reports"]] == [nums[d - 1] for d in days]


def test_by_dates_outside_every_report_is_1059(client: httpx.Client, kasa: str, world: DmWorld) -> None:
    three_shifts(world, kasa)
    got = post(client, body(kasa, 13, dt_from="20250101", dt_to="20251231"))
    assert (got["res"], got["errortxt"]) == (1059, text(1059, group="prro"))


@pytest.mark.parametrize("fiscal", [{"task": 13, "dt_from": "yesterday", "dt_to": "20260101"},
                                    {"task": 13, "dt_from": "20261301", "dt_to": "20260101"},
                                    {"task": 13, "dt_from": "２０２６０１０１", "dt_to": "20260101"},
                                    {"task": 13, "dt_from": "20260101"}, {"task": 12, "n_from": 1},
                                    {"task": 12, "n_from": "one", "n_to": 2}, {"task": 12, "n_from": 1.5, "n_to": 2}])
def test_bad_report_parameters_are_2000(client: httpx.Client, kasa: str, world: DmWorld, fiscal: dict) -> None:
    before = world.dm.store.digest()
    got = post(client, {"device": kasa, "fiscal": fiscal})
    assert (got["res"], got["res_action"]) == (2000, 3) and world.dm.store.digest() == before


# ------------------------------------------------------------------ print forms of documents, /dm/execute-prn
@pytest.fixture
def fiscal_sale(monkeypatch: pytest.MonkeyPatch, world: DmWorld) -> list[int]:
    """Task 1 as the fiscal tasks answer it: the document stored in the DM's copy, its numbers in ``info``
    (the real handler belongs to the fiscal tasks' module; this one stores what it stores)."""
    calls: list[int] = []

    def handler(ctx: Context) -> Answer:
        calls.append(1)
        pays = [Pay(int(p["type"]), round(float(p["sum"]) * 100)) for p in ctx.req.fiscal["receipt"]["pays"]]
        shift = int(ctx.prro.device.shift["id"])
        qr = "https://cabinet.tax.gov.ua/cashregs/check?fn=4000002411&id=FN"
        doc_id = dm_docs.sale(world, ctx.dev.name, shift, [bread(sum(p.sum for p in pays))], pays, tag=ctx.req.tag,
                              qr=qr)
        d = next(x for x in world.dm.store.docs(ctx.dev.name) if x.id == doc_id)
        return Answer(info={"doccode": d.fiscal_num, "docno": d.local_num, "qr": qr, "isprint": 0})

    monkeypatch.setitem(manager.TASKS, ("prro", 1), (handler, True))
    return calls


def sale_body(kasa: str, pay_type: int = 0, tag: str = "") -> dict[str, Any]:
    return {**body(kasa, 1, receipt={"sum": 50, "rows": [], "pays": [{"type": pay_type, "sum": 50}]}), "tag": tag}


def test_a_receipt_prints_and_its_form_is_the_paper(client: httpx.Client, kasa: str, world: DmWorld,
                                                    printer: Any, fiscal_sale: list[int]) -> None:
    dm_docs.open_shift(world, kasa)
    n, drawers = len(printer.documents), len(printer.drawer_openings)
    got = post(client, {**sale_body(kasa, pay_type=2), "need_pf_txt": 1}, "/dm/execute-prn")
    assert got["res"] == 0 and got["info"]["isprint"] == 1 and got["warnings"] == []
    paper = printer.documents[-1]
    assert len(printer.documents) == n + 1 and len(printer.drawer_openings) == drawers    # card: no drawer
    assert pf_text(got) == "\r\n".join(line.rstrip() for line in paper.text_lines()).rstrip() + "\r\n"
    txt = paper.text()
    for want in ("Хліб житній", "СУМА", "ПДВ А 20.00%", "Картка", "ФН чеку", got["info"]["doccode"],
                 "ФІСКАЛЬНИЙ ЧЕК", "Дякуємо", "за покупку."):
        assert want in txt
    assert [q.data for q in paper.qr_codes] == [got["info"]["qr"]]


def test_a_cash_receipt_opens_the_drawer_after_it_printed(client: httpx.Client, kasa: str, world: DmWorld,
                                                          printer: Any, fiscal_sale: list[int]) -> None:
    dm_docs.open_shift(world, kasa)
    drawers = len(printer.drawer_openings)
    got = post(client, sale_body(kasa, pay_type=0), "/dm/execute-prn")
    assert got["res"] == 0 and got["info"]["isprint"] == 1
    assert len(printer.drawer_openings) == drawers + 1 and printer.drawer_open


def test_execute_prn_prints_on_the_printer_named_by_dev_id(client: httpx.Client, kasa: str, world: DmWorld,
                                                           printer: Any, fiscal_sale: list[int]) -> None:
    dm_docs.open_shift(world, kasa)
    other = world.printers["Printer"][0]
    n, m = len(printer.documents), len(other.documents)
    got = post(client, sale_body(kasa, 2), "/dm/execute-prn?dev_id=Printer")
    assert got["info"]["isprint"] == 1 and len(other.documents) == m + 1 and len(printer.documents) == n


def test_an_unknown_printer_fiscalizes_and_says_not_printed(client: httpx.Client, kasa: str, world: DmWorld,
                                                            fiscal_sale: list[int]) -> None:
    dm_docs.open_shift(world, kasa)
    got = post(client, sale_body(kasa, 0), "/dm/execute-prn?dev_id=nobody")
    assert got["res"] == 0 and got["info"]["isprint"] == 0 and fiscal_sale == [1]
    assert got["warnings"] == [{"code": 1091, "wtxt": text(1091, group="dm")}]


@pytest.mark.parametrize("fault, said", [("paper_out", "out of paper"), ("cover_open", "the cover is open"),
                                         ("offline", "offline")])
def test_a_printer_fault_is_isprint_0_and_nothing_is_fiscalized_again(client: httpx.Client, kasa: str,
                                                                      world: DmWorld, printer: Any,
                                                                      fiscal_sale: list[int], fault: str,
                                                                      said: str) -> None:
    dm_docs.open_shift(world, kasa)
    printer.set_fault(fault, True)
    n, drawers = len(printer.documents), len(printer.drawer_openings)
    tag = f"prn-{fault}-{kasa}"
    got = post(client, sale_body(kasa, 0, tag), "/dm/execute-prn")
    assert got["res"] == 0 and got["res_action"] == 0 and got["info"]["isprint"] == 0
    [warning] = got["warnings"]
    assert warning["code"] == 430 and warning["wtxt"].startswith("Device error: printer 127.0.0.1:")
    assert said in warning["wtxt"]
    assert len(printer.documents) == n and len(printer.drawer_openings) == drawers       # no drawer either
    again = post(client, sale_body(kasa, 0, tag), "/dm/execute-prn")
    assert again == got and fiscal_sale == [1]
    assert len(world.dm.store.docs(kasa, DOC_KINDS[1])) == 1


def test_a_slow_printer_is_given_up_after_5_s(client: httpx.Client, kasa: str, world: DmWorld, printer: Any,
                                             fiscal_sale: list[int]) -> None:
    dm_docs.open_shift(world, kasa)
    printer.set_fault("slow", 8000)
    t0 = time.monotonic()
    got = post(client, sale_body(kasa, 0), "/dm/execute-prn")
    took = time.monotonic() - t0
    assert got["res"] == 0 and got["info"]["isprint"] == 0 and "no answer within 5 s" in got["warnings"][0]["wtxt"]
    assert 4.5 < took < 7.5


def test_a_failed_task_prints_nothing(client: httpx.Client, kasa: str, printer: Any) -> None:
    n = len(printer.documents)
    got = post(client, body(kasa, 10), "/dm/execute-prn")
    assert got["res"] == 1081 and "isprint" not in got["info"] and len(printer.documents) == n


def test_x_report_prints(client: httpx.Client, kasa: str, world: DmWorld, printer: Any) -> None:
    s = dm_docs.open_shift(world, kasa)
    dm_docs.sale(world, kasa, s, [bread(4200)], [Pay(0, 4200)])
    got = post(client, body(kasa, 10), "/dm/execute-prn")
    assert got["info"]["isprint"] == 1
    txt = printer.documents[-1].text()
    assert "X-ЗВІТ" in txt and "42.00" in txt and "Готівка в касі" in txt


@pytest.mark.parametrize("kind, task, want", [("open_shift", 0, "ВІДКРИТТЯ ЗМІНИ"), ("cash_in", 3, "СЛУЖБОВЕ ВНЕСЕННЯ"),
                                              ("cash_out", 4, "СЛУЖБОВА ВИДАЧА"), ("z_report", 11, "Z-ЗВІТ"),
                                              ("return", 2, "ВИДАТКОВИЙ ЧЕК"), ("cash_issue", 14, "ВИДАЧІ ГОТІВКИ"),
                                              ("sale", 22, "ФІСКАЛЬНИЙ ЧЕК")])
def test_every_stored_document_has_a_print_form(client: httpx.Client, kasa: str, world: DmWorld,
                                                monkeypatch: pytest.MonkeyPatch, kind: str, task: int,
                                                want: str) -> None:
    s = dm_docs.open_shift(world, kasa)
    if kind in ("cash_in", "cash_out"):
        dm_docs.cash(world, kasa, s, 1234, out=kind == "cash_out")
    elif kind in ("return", "cash_issue", "sale"):
        dm_docs.sale(world, kasa, s, [bread(1234)], [Pay(2, 1234)], kind=kind, offline=True)
    elif kind == "z_report":
        dm_docs.sale(world, kasa, s, [bread(1234)], [Pay(0, 1234)])
        dm_docs.z_report(world, kasa, s)
    # the task's answer as the fiscal tasks give it: only numbers, no paper
    monkeypatch.setitem(manager.TASKS, ("prro", task), (lambda ctx: Answer(info={"isprint": 0}), False))
    got = post(client, {**body(kasa, task), "need_pf_txt": 1})
    assert got["res"] == 0
    txt = pf_text(got)
    assert want in txt and "ФН ПРРО" in txt
    if kind != "open_shift":
        assert "12.34" in txt
    if kind in ("return", "cash_issue", "sale"):
        assert "ОФЛАЙН" in txt


def test_a_task_with_nothing_to_print_says_so(client: httpx.Client, kasa: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(manager.TASKS, ("prro", 21), (lambda ctx: Answer(info={"last_receipt_no": 0}), False))
    got = post(client, body(kasa, 21), "/dm/execute-prn")
    assert got["res"] == 0 and got["info"]["isprint"] == 0
    assert got["warnings"][0]["code"] == 430 and "nothing to print" in got["warnings"][0]["wtxt"]


def test_a_cash_in_opens_the_drawer_after_it_printed(client: httpx.Client, kasa: str, world: DmWorld,
                                                      printer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s = dm_docs.open_shift(world, kasa)

    def cash_in(ctx: Context) -> Answer:          # task 3 as the fiscal tasks store it
        dm_docs.cash(world, ctx.dev.name, s, 10000)
        return Answer(info={"isprint": 0})

    monkeypatch.setitem(manager.TASKS, ("prro", 3), (cash_in, True))
    drawers = len(printer.drawer_openings)
    got = post(client, body(kasa, 3, cash={"sum": 100, "type": "0"}), "/dm/execute-prn")
    assert got["info"]["isprint"] == 1 and "СЛУЖБОВЕ ВНЕСЕННЯ" in printer.documents[-1].text()
    assert len(printer.drawer_openings) == drawers + 1


def test_a_test_prro_marks_its_paper(client: httpx.Client, world: DmWorld, kasa: str) -> None:
    from emulator.fronts.dm.config import default_config
    name = f"test-prro-{next(_names)}"
    world.add_prro(name, config=default_config(is_fiscal=False))
    got = post(client, {**body(name, 5, lines=[{"t": "x"}]), "need_pf_txt": 1})
    assert "ТЕСТОВИЙ ПРРО: НЕ ФІСКАЛЬНИЙ ДОКУМЕНТ" in pf_text(got)
    assert "ТЕСТОВИЙ ПРРО" not in pf_text(post(client, {**body(kasa, 5), "need_pf_txt": 1}))


# ------------------------------------------------------------------ printer tasks
def test_printer_task_prints_a_document(client: httpx.Client, printer: Any) -> None:
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("1", (64, 16), 0).save(buf, format="BMP")
    logo = base64.b64encode(buf.getvalue()).decode()
    n = len(printer.documents)
    got = post(client, body("prn", 1, lines=[{"t": "Рядок"}, {"t": "QR", "qr_type": 100}], logo=logo))
    assert got["res"] == 0 and got["info"]["isprint"] == 1
    doc = printer.documents[-1]
    assert len(printer.documents) == n + 1 and "Рядок" in doc.text() and doc.images and doc.qr_codes


def test_printer_test_print_and_drawer_and_state(client: httpx.Client, printer: Any) -> None:
    n, drawers = len(printer.documents), len(printer.drawer_openings)
    assert post(client, body("prn", 2))["info"]["isprint"] == 1
    assert "Тестовий друк" in printer.documents[-1].text() and len(printer.documents) == n + 1
    assert post(client, body("prn", 3))["res"] == 0 and len(printer.drawer_openings) == drawers + 1
    state = post(client, body("prn", 18))["info"]
    assert (state["online"], state["paper"], state["drawer_open"]) == (1, "ok", 1)


@pytest.mark.parametrize("task", [1, 2, 3, 18])
def test_printer_tasks_on_a_faulty_printer_are_430(client: httpx.Client, printer: Any, task: int) -> None:
    printer.set_fault("paper_out", True)
    fiscal: dict[str, Any] = {"lines": [{"t": "x"}]} if task == 1 else {}
    got = post(client, body("prn", task, **fiscal))
    assert got["res"] == 430 and got["errortxt"].startswith("Device error: printer 127.0.0.1:")
    assert "out of paper" in got["errortxt"] and got["info"]["isprint"] == 0


@pytest.mark.parametrize("fiscal", [{"task": 1, "lines": [{"t": "1", "qr_type": 1}]}, {"task": 1, "logo": "@@"},
                                    {"task": 1, "logo": base64.b64encode(b"not an image").decode()},
                                    {"task": 9}])
def test_bad_printer_requests_are_2000(client: httpx.Client, printer: Any, fiscal: dict) -> None:
    n = len(printer.documents)
    got = post(client, {"device": "prn", "fiscal": fiscal})
    assert (got["res"], got["res_action"]) == (2000, 3) and len(printer.documents) == n


# ------------------------------------------------------------------ bounds
def test_the_largest_service_report_with_every_form_is_answered_in_bounded_time(world: DmWorld, kasa: str) -> None:
    qr = {"t": "https://example.invalid/" + "q" * 976, "qr_type": 100}
    lines = [{"t": "Ї" * 19}] * 196 + [qr] * 4           # 200 lines, 7,724 characters, 4 QR codes of 1000 bytes
    req = {**body(kasa, 5, lines=lines), "need_pf_txt": 1, "need_pf_img": 1, "need_pf_pdf": 1}
    assert world.dm.execute("execute", json.dumps({**req, "fiscal": {"task": 5}}).encode())["res"] == 0  # warm
    t0 = time.thread_time()
    got = world.dm.execute("execute", json.dumps(req).encode())
    took = time.thread_time() - t0
    assert got["res"] == 0 and {"pf_text", "pf_image", "pf_pdf"} <= set(got)
    assert took < 2.0, took


@pytest.mark.parametrize("lines", [[{"t": "a" * 1000}] * 21, [{"t": "1", "qr_type": 100}] * 5,
                                   [{"t": "a"}] * 201])
def test_service_reports_past_the_bounds_are_2000_at_once(world: DmWorld, kasa: str, lines: list) -> None:
    t0 = time.thread_time()
    got = world.dm.execute("execute", json.dumps({**body(kasa, 5, lines=lines), "need_pf_img": 1}).encode())
    assert got["res"] == 2000 and time.thread_time() - t0 < 0.5
