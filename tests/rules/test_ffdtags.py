"""The FFD tag table (``data/ffd_tags.yaml``): complete for what the emulator writes, well formed."""

from __future__ import annotations

import pytest

from emulator.rules.ffdtags import FNS_SOURCES, TAGS, TYPES, _check, spec

# Documents the emulator builds and the requisites it writes in them (issue 11).
DOCUMENTS = {1, 2, 3, 5, 6, 7, 11, 21, 31, 81, 82, 83, 84}
WRITTEN = {
    1000, 1001, 1002, 1009, 1012, 1013, 1017, 1018, 1020, 1021, 1023, 1030, 1031, 1037, 1038, 1040, 1041,
    1042, 1043, 1046, 1048, 1050, 1051, 1052, 1053, 1054, 1055, 1056, 1059, 1060, 1062, 1077, 1078, 1079,
    1081, 1097, 1098, 1101, 1108, 1109, 1110, 1111, 1116, 1117, 1118, 1162, 1163, 1173, 1174, 1178, 1179,
    1187, 1188, 1189, 1190, 1199, 1203, 1205, 1207, 1209, 1212, 1214, 1215, 1216, 1217, 1221, 1290, 1305,
    *range(1260, 1266),
    *range(2000, 2008), *(t for t in range(2100, 2117) if t != 2103),
}
ESTABLISHED = {   # FNS JSON names seen in public FNS-format JSON (and permit-mode-api §13)
    1012: "dateTime", 1040: "fiscalDocumentNumber", 1041: "fiscalDriveNumber", 1077: "fiscalSign",
    1059: "items", 1260: "itemsIndustryDetails", 1261: "industryReceiptDetails", 1262: "idFoiv",
    1263: "foundationDocDateTime", 1264: "foundationDocNumber", 1265: "industryPropValue",
    2106: "checkingProdInformationResult", 2107: "checkingLabeledProdResult", 2102: "labelCodeProcesMode",
    2104: "undeliveredNotificationsNumber", 2115: "controlCode", 2108: "itemsQuantityMeasure",
    1020: "totalSum", 1037: "kktRegId", 1018: "userInn", 1021: "operator", 1031: "cashTotalSum",
    1081: "ecashTotalSum", 1054: "operationType", 1055: "appliedTaxationType", 1163: "productCodeNew",
}


def test_every_tag_the_emulator_writes_is_in_the_table() -> None:
    assert set(TAGS) >= DOCUMENTS | WRITTEN, sorted((DOCUMENTS | WRITTEN) - set(TAGS))


def test_established_fns_names() -> None:
    for tag, name in ESTABLISHED.items():
        assert (TAGS[tag].fns, TAGS[tag].fns_src) == (name, "fns"), tag


def test_entries_are_well_formed() -> None:
    for s in TAGS.values():
        assert s.name and s.fns and s.type in TYPES and s.fns_src in FNS_SOURCES
        assert not (s.max_len is not None and s.fixed_len is not None)
        if s.type in ("byte", "bool", "u32", "unixtime"):
            assert s.max_len is None and s.fixed_len is None, s.number
        if s.type == "fpd":
            assert s.fixed_len == 6
        if s.type in ("vln", "fvln"):
            assert s.max_len is not None and s.max_len <= (8 if s.type == "vln" else 9), s.number
    assert {TAGS[t].fns_src for t in TAGS} == {"fns", "emulator"}    # both kinds are marked


def test_sizes_of_the_permit_mode_tags() -> None:
    assert (TAGS[1260].type, TAGS[1260].max_len, TAGS[1260].repeat) == ("stlv", 317, True)
    assert (TAGS[1262].max_len, TAGS[1263].fixed_len, TAGS[1264].max_len, TAGS[1265].max_len) == (3, 10, 32, 256)
    assert (TAGS[2000].type, TAGS[2000].max_len) == ("string", 256)
    assert TAGS[2106].type == "byte" and TAGS[2107].type == "bool" and TAGS[2114].type == "unixtime"
    assert TAGS[1023].type == "fvln" and TAGS[1037].fixed_len == 20 and TAGS[1018].fixed_len == 12


def test_spec_of_an_unknown_tag_is_none() -> None:
    assert spec(9999) is None and spec(1040) is TAGS[1040]


@pytest.mark.parametrize(("raw", "words"), [
    ({"tag": 1}, "a list"),
    ([{"tag": 5, "name": "a", "fns": "a", "type": "byte"}] * 2, "twice"),
    ([{"tag": 5, "name": "a", "fns": "a", "type": "float"}], "unknown type"),
    ([{"tag": 5, "name": "a", "fns": "a", "type": "string", "max": 3, "fixed": 3}], "both"),
    ([{"tag": 70000, "name": "a", "fns": "a", "type": "byte"}], "out of range"),
    ([{"tag": 5, "name": "a", "fns": "a", "type": "byte", "fns_src": "guess"}], "fns_src"),
])
def test_a_bad_table_is_refused(raw: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        _check(raw)
