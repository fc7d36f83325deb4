"""Fuzz target: the mock tax server's gate. Any body on any path, signed or not, compressed or not, gives an
answer (never an exception), and an error answer registers nothing."""

import time

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz
from tests.servers.taxfs.world import make_world

W = make_world()
KEY = W.key()
TILL = W.till(KEY)
TILL.open()
OK_SALE = TILL.sale(100).to_xml()
STATUSES = {200, 204, 400, 404, 415, 416}
BODIES = [b"{", b'{"Command": "Objects"}', b'{"Command": "TransactionsRegistrarState", "NumFiscal": 1}',
          b'{"Command": "Check", "RegistrarNumFiscal": "4000002411", "NumFiscal": null}',
          b'{"Command": "Shifts", "Timestamp": "x", "Timeout": []}', OK_SALE, OK_SALE.replace(b"100", b"1e9")]


@fuzz("taxfs")
@given(st.sampled_from(["/fs/cmd", "/fs/doc", "/fs/pck", "/fs/x"]),
       st.one_of(st.sampled_from(BODIES), st.binary(max_size=400)), st.booleans(),
       st.sampled_from([None, "gzip", "deflate", "br"]), st.booleans())
def test_any_request(path, body, sign, encoding, as_json):
    before = len(W.server.documents)
    data = KEY.sign(body) if sign else body
    start = time.monotonic()
    answer = W.server.request(path, data, content_encoding=encoding, as_json=as_json)
    assert time.monotonic() - start < 2.0
    assert answer.status in STATUSES, answer
    if answer.error_code is not None or answer.status != 200:
        assert len(W.server.documents) == before
