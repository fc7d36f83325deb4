"""The two worked examples of the vendor's instruction, byte for byte."""

from emulator.devices.kkt.logbook import NO_EXPIRY, Logbook, local_time_text
from tests.seed_examples import SEED_754, SEED_758


def test_all_ones_expiry_is_the_seed_date_in_moscow_time():
    assert local_time_text(NO_EXPIRY, 180) == "07-02-2106 09:28:15"
    assert local_time_text(NO_EXPIRY, 0) == "07-02-2106 06:28:15"


def test_seed_records_byte_for_byte(tmp_path):
    book = Logbook(tmp_path, first_seq=9812)
    r = book.append(time_ms=1712141750370, code=758, flags=(True, True, True, False, False, True, False),
                    price=24800, max_price=14000, min_price=12900, expiry_s=NO_EXPIRY, tag2106=15,
                    elapsed_ms=523, req_id="4ac3d96d-df56-4d56-8d97-a22006848d48", req_timestamp=1712141750370)
    assert r.text == SEED_758
    assert r.text.encode("utf-8") == SEED_758.encode("utf-8")
    book.set_next_seq(5735)
    r2 = book.append(time_ms=1712095349413, code=754, flags=(True, True, True, True, False, False, False),
                     price=16000, max_price=16000, min_price=12900, expiry_s=NO_EXPIRY, tag2106=15,
                     elapsed_ms=437, req_id="abc95c24-283b-4783-868d-d605fcb4cf60", req_timestamp=1712095349413)
    assert r2.text == SEED_754
    assert r2.field("Продан") == "Да" and r2.field("Цена") == "16000" and r2.field("ВремяОбработки") == "437мс"


def test_records_survive_reopening_and_upload_marks(tmp_path):
    book = Logbook(tmp_path)
    for code in (748, 768):
        book.append(time_ms=1, code=code, flags=(None,) * 7, price=0, max_price=0, min_price=0,
                    expiry_s=NO_EXPIRY, tag2106=0, elapsed_ms=1500, req_id="", req_timestamp=None, note="x")
    book.mark_uploaded([1])
    book.close()
    again = Logbook(tmp_path)
    assert [r.code for r in again.records] == [748, 768]
    assert [r.seq for r in again.pending_upload()] == [2]
    assert again.next_seq == 3
    assert again.records[0].text.splitlines()[1] == "\t\tНайден:-,Нанесен:-,Крипто:-,Продан:-,Заблокирован:-,В обороте:-,Серая зона:-"
    assert again.records[0].text.endswith("ВремяОбработки:1500мс, UUID=&Time=")
