"""Fuzz target: the scanner reading picture bytes (``read_token_qr``). Every input is a token or a
``TokenQrError``, in bounded time: mutations of real PNG/GIF/BMP/JPEG files and of the pictures that
once crashed it."""

import io
import time

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from emulator.wire.token_qr import TokenQrError, read_token_qr
from tests.fronts.garbage_images import bomb_gif, damaged_png, pil_im
from tests.fuzz.budget import fuzz


def _saved(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), "white").save(buf, fmt)
    return buf.getvalue()


SEEDS = [_saved(f) for f in ("PNG", "GIF", "BMP", "JPEG")] + [bomb_gif(), damaged_png(), pil_im()]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:i + draw(st.integers(1, 64))]
            if not data:
                data = bytearray(b"\x00")
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@fuzz("token_image")
@given(st.one_of(mutated(), st.binary(max_size=512)))
def test_any_picture_is_a_token_or_a_refusal(data):
    start = time.monotonic()
    try:
        read_token_qr(data)
    except TokenQrError as exc:
        assert exc.message
    assert time.monotonic() - start < 2.0
