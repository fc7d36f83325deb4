"""Every item (1059) of a closed receipt carries 1199, 1212 and 1214, read back from the archived bytes."""

from __future__ import annotations

from pathlib import Path

from emulator.rules.ffdtags import spec
from emulator.wire.ffd.document import Document
from tests.fiscal.test_agreement import _sold


def test_the_tag_table_types_the_item_requisites_as_bytes() -> None:
    for tag, name in ((1199, "Ставка НДС"), (1212, "Признак предмета расчета"),
                      (1214, "Признак способа расчета")):
        s = spec(tag)
        assert s is not None and s.type == "byte" and s.name == name


def test_each_item_has_its_subject_payment_method_and_vat_rate(tmp_path: Path) -> None:
    world, op = _sold(tmp_path)
    try:
        fiscal = op.device.fiscal
        assert fiscal is not None
        raw = fiscal.drive.document_bytes(fiscal.drive.last_fd)
        doc = Document.decode(raw)
        assert doc.doc_type == 3
        items = [dict(i) for i in doc.all(1059)]
        assert len(items) == 2
        marked, free = items
        assert marked[2000] and 2000 not in free
        assert (marked[1212], marked[1214], marked[1199]) == (33, 4, 6)
        assert (free[1212], free[1214], free[1199]) == (1, 4, 6)
        item_json = doc.to_json()["items"]
        assert item_json[0]["productType"] == 33 and item_json[0]["paymentType"] == 4 and item_json[0]["nds"] == 6
    finally:
        world.close()
