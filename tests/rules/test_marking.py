import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.rules.marking import GS, MRP_MAX, MarkingCodeError, decode_mrp, encode_mrp, parse


@pytest.mark.parametrize("kop,code", [(0, "AAAA"), (12500, "AB=U"), (14500, "ACVU"), (14630, "ACW."),
                                      (19900, "ADI8")])
def test_mrp_vectors(kop, code):
    assert encode_mrp(kop) == code
    assert decode_mrp(code) == kop


@given(st.integers(min_value=0, max_value=MRP_MAX))
def test_mrp_round_trip(n):
    assert decode_mrp(encode_mrp(n)) == n


def test_pack_code_carries_its_mrp_and_ki_is_21_chars():
    c = parse("04601653035829H;dV)bFACVUdGVz")
    assert c.kind == "pack" and c.mrp_kopecks == 14500 and c.ki == "04601653035829H;dV)bF"


def test_block_code_mrp_from_ai_8005_and_gs_spellings():
    raw = "010461013628057121/798DM%" + GS + "8005199000" + GS + "93dGVz"
    for spelled in (raw, raw.replace(GS, "<GS>"), raw.replace(GS, "\\u001d")):
        c = parse(spelled)
        assert c.raw == raw and c.mrp_kopecks == 199000 and c.gtin == "04610136280571"
        assert c.ki == "010461013628057121/798DM%" and c.crypto_tail == "dGVz"


@pytest.mark.parametrize("bad", ["", "hello", "0104670540176099", "01046705401760992", "0104670540176099X1abc",
                                 "01046705401760992\x01abc", "01046705401760992145\x1d8005x",
                                 "01046705401760992145\x1d8005" + "9" * 22, "01046705401760992145\x1d800512345"])
def test_bad_scans_are_refused_with_a_reason(bad):
    with pytest.raises(MarkingCodeError):
        parse(bad)


@given(st.text(max_size=60))
def test_parse_never_raises_anything_but_marking_code_error(text):
    try:
        parse(text)
    except MarkingCodeError:
        pass


def test_pack_without_mrp():
    c = parse("00840147505712Zz;ZnRbAAAAdGVz")
    assert c.kind == "pack" and c.mrp_kopecks is None
