"""The token as a QR code: round trips and the scanner's refusals."""

from __future__ import annotations

import base64
import io
import json
import uuid

import pytest
import qrcode
from PIL import Image

from emulator.rules.syntax import mask_token
from emulator.wire.token_qr import TokenQrError, make_token_qr, read_token_qr

UUID_TOKEN = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


JWT_TOKEN = ".".join([
    _b64({"alg": "GOST3410", "typ": "JWT"}),
    _b64({"inn": "7700000000", "pid": 12345, "exp": 1790000000, "scope": ["codes.check"] * 8,
          "id": str(uuid.UUID(int=7))}),
    base64.urlsafe_b64encode(bytes(range(256)) * 2).decode().rstrip("="),
])


def _qr_image(text: str) -> Image.Image:
    qr = qrcode.QRCode(box_size=4, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.make_image().get_image().convert("L")


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("token", [UUID_TOKEN, JWT_TOKEN], ids=["uuid", "jwt"])
def test_round_trip(token, tmp_path) -> None:
    path = tmp_path / "token.png"
    make_token_qr(token, path)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert read_token_qr(path) == token
    assert read_token_qr(str(path)) == token
    assert read_token_qr(path.read_bytes()) == token


def test_jwt_is_long() -> None:
    assert len(JWT_TOKEN) > 600


def test_a_png_without_a_qr_code(tmp_path) -> None:
    path = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(path)
    with pytest.raises(TokenQrError, match="no QR code"):
        read_token_qr(path)


def test_a_text_file_is_not_an_image(tmp_path) -> None:
    path = tmp_path / "token.txt"
    path.write_text(UUID_TOKEN)
    with pytest.raises(TokenQrError, match="not an image") as info:
        read_token_qr(path)
    assert UUID_TOKEN not in str(info.value)
    with pytest.raises(TokenQrError, match="not an image"):
        read_token_qr(UUID_TOKEN.encode())
    with pytest.raises(TokenQrError, match="no such file"):
        read_token_qr(tmp_path / "missing.png")


def test_two_qr_codes_side_by_side() -> None:
    a, b = _qr_image(UUID_TOKEN), _qr_image("another-token-0123456789")
    sheet = Image.new("L", (a.width + b.width + 40, max(a.height, b.height) + 20), 255)
    sheet.paste(a, (10, 10))
    sheet.paste(b, (a.width + 30, 10))
    with pytest.raises(TokenQrError, match="2 QR codes") as info:
        read_token_qr(_png(sheet))
    assert UUID_TOKEN not in str(info.value)


def test_content_that_is_not_a_token_is_refused_masked() -> None:
    secretish = "this is not a token but a sentence with spaces"
    with pytest.raises(TokenQrError, match="not a plausible token") as info:
        read_token_qr(_png(_qr_image(secretish)))
    assert secretish not in str(info.value)
    assert mask_token(secretish) in str(info.value)
    with pytest.raises(TokenQrError, match="not a plausible token"):
        read_token_qr(_png(_qr_image("short")))


def test_make_refuses_a_non_token_without_showing_it(tmp_path) -> None:
    with pytest.raises(TokenQrError) as info:
        make_token_qr("bad token with spaces in it", tmp_path / "x.png")
    assert "bad token with spaces in it" not in str(info.value)
    assert not (tmp_path / "x.png").exists()
