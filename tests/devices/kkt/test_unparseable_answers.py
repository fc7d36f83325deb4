"""Answer bodies that do not parse, through the device on the simulated network.

The backend's plan makes garbage (``"garbage"``, ``"truncated"``) but not a chosen
body, so the bodies here are put in at the transport level: ``Rewriting`` passes
every request to a ``SimulatedNetwork`` and replaces the status and body of the
next answers on one path. A body nested too deep for the JSON parser
(``RecursionError`` inside ``json``) or holding a number too long to convert must
give the same code as any other body that does not parse, never an exception.
"""

from __future__ import annotations

import dataclasses

import pytest

from emulator.base import errors as E
from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.devices.kkt.gismt import CDN_INFO_PATH, CHECK_PATH
from emulator.devices.kkt.permit import AnswerError, parse_check_answer, parse_json_body
from emulator.net.oism import SimOismLink
from emulator.net.seam import Deliver, NetRequest, NetResult
from emulator.net.simulated import SimulatedNetwork
from emulator.rules.marking import GS
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.catalogue import CatalogueEntry
from tests.devices.kkt.till import Till as SharedTill

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
START = 1_768_456_800_000
GOOD = f"0104600000000017215Good1{GS}93abcd"
CDN1, CDN2 = "cdn01.crpt.ru", "cdn02.crpt.ru"

TOO_DEEP = {
    "open arrays": b"[" * 100_000,
    "closed arrays": b"[" * 100_000 + b"]" * 100_000,
    "objects": b'{"a":' * 100_000,
    "a long number": b'{"code": ' + b"7" * 5_000 + b"}",
}


class Rewriting:
    """A ``SimulatedNetwork`` whose next ``count`` answers on ``path`` get ``status`` and ``body`` instead."""

    def __init__(self, net: SimulatedNetwork) -> None:
        self.net = net
        self.path = ""
        self.status = 200
        self.body = b""
        self.count = 0
        self.rewritten = 0

    def answer(self, path: str, status: int, body: bytes, count: int = 1) -> None:
        self.path, self.status, self.body, self.count = path, status, body, count

    def submit(self, request: NetRequest, deliver: Deliver) -> None:
        def rewrite(result: NetResult) -> None:
            if result.failure is None and request.path == self.path and self.count > 0:
                self.count -= 1
                self.rewritten += 1
                result = dataclasses.replace(result, status=self.status, body=self.body)
            deliver(result)

        self.net.submit(request, rewrite)

    def cancel(self, request_id: int) -> None:
        self.net.cancel(request_id)

    def close_connection(self, key: str) -> None:
        self.net.close_connection(key)


class Till(SharedTill):
    def status_check(self) -> None:
        super().status_check()
        self.dismiss()


def till(status: bool = True) -> Till:
    clock = VirtualClock(START)
    backend = TrueApiBackend(seed=0)
    backend.add_token("prod", TOKEN)
    backend.add_code(CatalogueEntry(code=GOOD, groupIds=(8,)))
    backend.host(CDN1).faults.latency_ms = 20
    backend.host(CDN2).faults.latency_ms = 200
    net = Rewriting(SimulatedNetwork(clock, backend))
    dev = KktDevice(clock, net, oism=SimOismLink(OismModel()))
    dev.settings.token = TOKEN
    t = Till(clock, backend, net, dev)
    if status:
        t.status_check()
        assert t.codes == [] and dev.book.active(clock.now_ms) is not None
    return t


# ---------------------------------------------------------------------------------------------------------------
# the shared helper


@pytest.mark.parametrize("body", list(TOO_DEEP.values()), ids=list(TOO_DEEP))
def test_a_body_the_parser_cannot_take_is_answer_error(body: bytes) -> None:
    with pytest.raises(AnswerError, match="not JSON"):
        parse_json_body(body)
    with pytest.raises(AnswerError, match="not JSON"):
        parse_check_answer(body)


def test_shallow_nesting_still_parses() -> None:
    assert parse_json_body(b"[" * 50 + b"]" * 50) is not None
    assert parse_json_body('{"description": "ок"}'.encode()) == {"description": "ок"}


# ---------------------------------------------------------------------------------------------------------------
# through the device


@pytest.mark.parametrize("body", list(TOO_DEEP.values()), ids=list(TOO_DEEP))
def test_codes_check_200_too_deep_is_750(body: bytes) -> None:
    t = till()
    t.net.answer(CHECK_PATH, 200, body)
    t.sell()
    assert t.net.rewritten == 1
    assert t.codes == [E.PARSE_ERROR], t.notes
    assert t.notes[0].startswith(f"codes/check {CDN1}: not JSON")
    assert t.dev.last_error == E.PARSE_ERROR
    assert t.positions() == [("failed", E.PARSE_ERROR)]
    assert len(t.dev.beeps) == 1 and t.dev.status_symbol == "!"


@pytest.mark.parametrize("body", [b"<html>oops</html>", *TOO_DEEP.values()], ids=["garbage", *TOO_DEEP])
def test_a_500_whose_body_does_not_parse_is_a_plain_5xx(body: bytes) -> None:
    # Not code 5000, so the host's fault: 760, the repeat 760 blocks the host (768), cdn02 answers.
    t = till()
    t.net.answer(CHECK_PATH, 500, body, count=2)
    t.sell()
    assert t.net.rewritten == 2
    assert t.codes == [E.REMOTE_ERROR, E.REMOTE_ERROR, E.ATTEMPTS_EXHAUSTED], t.notes
    assert t.notes[0] == f"codes/check {CDN1}: HTTP 500"
    assert t.positions() == [("allowed", None)]
    assert t.dev.book.active(t.clock.now_ms).name == CDN2


@pytest.mark.parametrize("body", [b"<html>oops</html>", *TOO_DEEP.values()], ids=["garbage", *TOO_DEEP])
def test_cdn_info_200_that_does_not_parse_is_750_then_a_sale_is_747(body: bytes) -> None:
    t = till(status=False)
    t.net.answer(CDN_INFO_PATH, 200, body, count=2)     # the status check and the refresh at shift opening
    t.status_check()
    assert t.codes == [E.PARSE_ERROR], t.notes
    assert t.notes[0].startswith("cdn/info: not JSON")
    assert t.dev.last_error == E.PARSE_ERROR and not t.dev.book.has_list
    t.sell()
    assert t.net.rewritten == 2
    assert t.codes == [E.PARSE_ERROR, E.PARSE_ERROR, E.NO_ACTIVE_CDN], t.notes
    assert t.notes[2] == "codes/check not sent: no ranked CDN list"
    assert t.dev.last_error == E.NO_ACTIVE_CDN
    assert t.positions() == [("failed", E.NO_ACTIVE_CDN)]
    assert t.net.net.stats.requests.get(CDN1, 0) == 0        # no check went out
