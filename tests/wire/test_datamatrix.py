"""Marking codes drawn as GS1 DataMatrix (libdmtx) and read back as a scanner sends them."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from emulator.rules.marking import GS
from emulator.wire.datamatrix import CodeImageError, code_symbol_data, make_code_image, read_code_image

GS1_CODE = "010469999010001021Shop01ok\x1d93Tl01"
PACK_CODE = "04699990300014Shop003AC=UTl03"


def test_a_gs1_code_is_drawn_with_fnc1_and_read_back_with_gs(tmp_path):
    data, gs1 = code_symbol_data(GS1_CODE.replace(GS, "<GS>"))
    assert gs1 and data == b"\x1d" + GS1_CODE.encode()     # the leading FNC1, GS -> FNC1 in the symbol
    path = tmp_path / "code.png"
    png = make_code_image(GS1_CODE, path)
    assert path.read_bytes() == png and png.startswith(b"\x89PNG")
    assert read_code_image(path) == GS1_CODE


def test_the_symbol_holds_fnc1_codewords_not_gs_characters():
    """Read without the FNC1 mapping the symbol's separators vanish: they are FNC1 (232), not ASCII GS (30)."""
    from pylibdmtx.pylibdmtx import decode

    found = decode(Image.open(io.BytesIO(make_code_image(GS1_CODE))).convert("L"))
    assert [d.data for d in found] == [GS1_CODE.replace(GS, "").encode()]


def test_a_tobacco_pack_code_is_a_plain_datamatrix():
    assert code_symbol_data(PACK_CODE) == (PACK_CODE.encode(), False)
    assert read_code_image(make_code_image(PACK_CODE)) == PACK_CODE


def test_not_a_marking_code_is_refused_without_drawing():
    with pytest.raises(CodeImageError, match="not a marking code") as e:
        make_code_image("hello")
    assert e.value.kind == "code"


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_no_code_two_codes_and_a_broken_file_are_defined_refusals():
    one = Image.open(io.BytesIO(make_code_image(GS1_CODE))).convert("L")
    two = Image.new("L", (one.width * 2 + 40, one.height), 255)
    two.paste(one, (0, 0))
    two.paste(one, (one.width + 40, 0))
    cases = {"none": _png(Image.new("L", (300, 300), 255)), "many": _png(two), "file": b"\x89PNG broken"}
    for kind, data in cases.items():
        with pytest.raises(CodeImageError) as e:
            read_code_image(data)
        assert e.value.kind == kind
        assert "Shop01ok" not in e.value.message


def test_a_large_empty_picture_is_searched_in_bounded_time():
    start = time.monotonic()
    with pytest.raises(CodeImageError):
        read_code_image(_png(Image.effect_noise((2000, 2000), 60).convert("L")))
    assert time.monotonic() - start < 8.0
