"""Two CDN rules of the operator's guide, through the device on the simulated network.

* Fallback list: ``cdn/info`` unavailable and never succeeded → the production
  fallback list ``cdn01.crpt.ru`` … ``cdn11.crpt.ru``, health-checked and ranked
  by measured latency; hosts that do not answer are left out. A later
  successful ``cdn/info`` replaces it; a cached ``cdn/info`` list is kept when
  ``cdn/info`` fails; the sandbox has no fallback list (747 as before).
* Unblock probe: an answer unblocks the host and re-measures every other host
  that is not blocked, then re-ranks all of them; a failed probe measures
  nothing else.
"""

from __future__ import annotations

import re

import pytest

from emulator.base import errors as E
from emulator.base.clock import VirtualClock
from emulator.devices.kkt.cdn import BLOCK_MS
from emulator.devices.kkt.device import KktDevice
from emulator.devices.kkt.gismt import FALLBACK_HOSTS
from emulator.net.oism import SimOismLink
from emulator.net.simulated import SimulatedNetwork
from emulator.rules.marking import GS
from emulator.rules.syntax import SANDBOX_HOST
from emulator.servers.oism.model import OismModel
from emulator.servers.trueapi import TrueApiBackend
from emulator.servers.trueapi.catalogue import CatalogueEntry
from tests.devices.kkt.till import Till as SharedTill

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
SANDBOX_TOKEN = "5b8e2a91-4c7d-4e0f-8a3b-9d6c1e2f7a05"
START = 1_768_456_800_000
GOOD = f"0104600000000017215Good1{GS}93abcd"
BASE = "cdn.crpt.ru"
CDN1, CDN2, CDN3 = "cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"
ABSENT = [f"cdn{i:02d}.crpt.ru" for i in range(4, 12)]   # in the fallback list, not in the world
RECORD = re.compile(r"ГИС МТ\t\d{3}\t\[\d+\]\n\t\t(?:[^:,\n]+:(?:Да|Нет|-),){6}[^:,\n]+:(?:Да|Нет|-)\n"
                    r"Цена:\d+ Макс:\d+ Мин:\d+, ГоденДо:\d\d-\d\d-\d{4} \d\d:\d\d:\d\d, 2106:\d+, "
                    r"ВремяОбработки:\d+мс, UUID=[0-9a-f-]*&Time=\d*")


class Till(SharedTill):
    def blocked(self) -> list[str]:
        return sorted(h.name for h in self.dev.book.hosts if h.blocked(self.clock.now_ms))

    def health_checks(self, *hosts: str) -> list[int]:
        return [self.backend.host(h).health_checks for h in hosts]


def till(latencies: tuple[int, int, int] = (100, 200, 300), sandbox: bool = False) -> Till:
    clock = VirtualClock(START)
    backend = TrueApiBackend(seed=0)
    backend.add_token("sandbox" if sandbox else "prod", SANDBOX_TOKEN if sandbox else TOKEN)
    backend.add_code(CatalogueEntry(code=GOOD, groupIds=(8,)))
    for name, ms in zip(backend.cdn_hosts("sandbox" if sandbox else "prod"), latencies):
        backend.host(name).faults.latency_ms = ms
    net = SimulatedNetwork(clock, backend)
    dev = KktDevice(clock, net, oism=SimOismLink(OismModel()))
    dev.settings.token = SANDBOX_TOKEN if sandbox else TOKEN
    if sandbox:
        dev.settings.gismt_host = SANDBOX_HOST
    return Till(clock, backend, net, dev)


# ---------------------------------------------------------------------------------------------------------------
# the fallback list


def test_the_fallback_list_is_the_operators_production_list() -> None:
    assert {BASE: tuple(f"cdn{i:02d}.crpt.ru" for i in range(1, 12))} == FALLBACK_HOSTS


def test_cdn_info_never_answered_the_fallback_hosts_are_ranked_and_a_check_goes_out() -> None:
    t = till(latencies=(300, 100, 200))
    t.backend.host(BASE).faults.down = True
    t.status_check()
    # One record for cdn/info, one for each fallback host that did not answer (not in the world:
    # the name does not resolve), as for any failed health check; nothing else.
    assert t.codes == [E.NO_CONNECTION] * 9, t.notes
    assert t.notes[0].startswith("cdn/info: refused")
    assert t.notes[1:] == [f"health/check {h}: resolve unknown host {h}" for h in ABSENT]
    assert all(RECORD.fullmatch(r.text) for r in t.dev.logbook.records)
    assert t.dev.display.text == "ГИС МТ: OK\nCDN: cdn02.crpt.ru"
    assert t.dev.status_symbol == "S"
    assert t.order() == [CDN2, CDN3, CDN1] and t.blocked() == []   # the hosts that did not answer are left out
    assert t.dev.book.fallback
    t.sell()                                   # the refresh at shift opening is not due (the list is fresh)
    assert t.positions() == [("allowed", None)]
    assert t.codes == [E.NO_CONNECTION] * 9
    assert t.net.stats.requests == {BASE: 1, CDN1: 1, CDN2: 2, CDN3: 1, **{h: 1 for h in ABSENT}}
    t.wait(2 * BLOCK_MS)                       # no probe ever asks a host of the fallback list that did not answer
    assert len(t.codes) == 9 and t.net.stats.requests[ABSENT[0]] == 1


def test_the_fallback_list_is_asked_again_at_each_refresh_until_cdn_info_answers() -> None:
    t = till()
    t.backend.host(BASE).faults.down = True
    t.status_check()
    assert t.order() == [CDN1, CDN2, CDN3]
    t.backend.host(CDN1).faults.latency_ms = 500
    t.status_check()                           # cdn/info still down: the fallback hosts are measured again
    assert t.health_checks(CDN1, CDN2, CDN3) == [2, 2, 2]
    assert t.order() == [CDN2, CDN3, CDN1] and t.dev.book.fallback
    assert t.codes == [E.NO_CONNECTION] * 18


def test_a_later_cdn_info_replaces_the_fallback_list_which_is_then_kept_as_the_cached_list() -> None:
    t = till()
    t.backend.host(BASE).faults.down = True
    t.status_check()
    assert t.order() == [CDN1, CDN2, CDN3] and t.dev.book.fallback
    t.backend.host(BASE).faults.down = False
    t.backend.set_cdn_hosts("prod", [CDN3, CDN2])
    t.status_check()
    assert t.order() == [CDN2, CDN3] and not t.dev.book.fallback
    assert len(t.codes) == 9                   # cdn/info answered: no record
    # cdn/info fails again: the cached list of cdn/info is kept, nothing is measured
    t.backend.host(BASE).faults.down = True
    checks = t.health_checks(CDN2, CDN3)
    t.status_check()
    assert t.codes[9:] == [E.NO_CONNECTION] and t.notes[9].startswith("cdn/info")
    assert t.dev.last_error == E.NO_CONNECTION
    assert t.order() == [CDN2, CDN3] and t.health_checks(CDN2, CDN3) == checks
    assert t.net.stats.requests.get(CDN1, 0) == 1


@pytest.mark.parametrize("fault, first, used", [
    (500, E.REMOTE_ERROR, True), (429, E.REMOTE_ERROR, True), ("stall", E.NO_CONNECTION, True),
    (400, E.BAD_REQUEST, False), ("garbage", E.PARSE_ERROR, False)])
def test_which_cdn_info_failures_count_as_unavailable(fault: int | str, first: int, used: bool) -> None:
    t = till()
    t.backend.host(BASE).faults.plan([fault])
    t.status_check()
    assert t.codes[0] == first, t.notes
    assert t.dev.book.has_list is used
    assert t.health_checks(CDN1) == [int(used)]
    if used:
        assert t.codes[1:] == [E.NO_CONNECTION] * 8 and t.order() == [CDN1, CDN2, CDN3]
    else:
        assert t.codes == [first] and t.dev.last_error == first


def test_no_host_of_the_fallback_list_answers_764_and_no_list() -> None:
    t = till()
    for h in (BASE, CDN1, CDN2, CDN3):
        t.backend.host(h).faults.down = True
    t.status_check()
    assert t.codes == [E.NO_CONNECTION] * 12 + [E.NO_AVAILABLE_CDN], t.notes
    assert t.notes[-1] == "no host of the fallback CDN list answered health/check"
    assert t.dev.last_error == E.NO_AVAILABLE_CDN and not t.dev.book.has_list


def test_the_sandbox_has_no_fallback_list_747_as_before() -> None:
    t = till(sandbox=True)
    t.backend.host(SANDBOX_HOST).faults.down = True
    t.status_check()
    assert t.codes == [E.NO_CONNECTION] and not t.dev.book.has_list
    t.sell()
    assert t.codes == [E.NO_CONNECTION, E.NO_CONNECTION, E.NO_ACTIVE_CDN], t.notes
    assert t.positions() == [("failed", E.NO_ACTIVE_CDN)]
    assert set(t.net.stats.requests) == {SANDBOX_HOST}


# ---------------------------------------------------------------------------------------------------------------
# the unblock probe


def _block_cdn1(t: Till) -> None:
    t.status_check()
    t.backend.host(CDN1).faults.plan([500, 500])
    t.sell()
    assert t.blocked() == [CDN1] and t.order() == [CDN1, CDN2, CDN3]
    assert t.health_checks(CDN1, CDN2, CDN3) == [1, 1, 1]


def test_a_probe_that_answers_remeasures_every_host_and_reranks_all() -> None:
    t = till()
    _block_cdn1(t)
    t.backend.host(CDN2).faults.latency_ms = 900
    t.backend.host(CDN3).faults.latency_ms = 150
    t.wait(BLOCK_MS)
    assert t.health_checks(CDN1, CDN2, CDN3) == [2, 2, 2]
    assert t.blocked() == [] and t.order() == [CDN1, CDN3, CDN2]
    assert [h.latency_ms for h in t.dev.book.hosts] == [100, 150, 900]
    assert t.codes == [E.REMOTE_ERROR, E.REMOTE_ERROR, E.ATTEMPTS_EXHAUSTED]


def test_a_host_that_does_not_answer_the_remeasure_is_blocked_and_probed_later() -> None:
    t = till()
    _block_cdn1(t)
    t.backend.host(CDN3).faults.down = True
    t.wait(BLOCK_MS)
    assert t.blocked() == [CDN3] and t.order() == [CDN1, CDN2, CDN3]
    assert t.codes[3:] == [E.NO_CONNECTION] and t.notes[3] == "health/check cdn03.crpt.ru: refused connection refused"
    t.backend.host(CDN3).faults.down = False
    t.backend.host(CDN3).faults.latency_ms = 50
    t.wait(BLOCK_MS)                           # cdn03's own probe answers: all re-ranked again
    assert t.blocked() == [] and t.order() == [CDN3, CDN1, CDN2]
    assert t.health_checks(CDN1, CDN2, CDN3) == [3, 3, 2]     # cdn03 was down for its first re-measure


def test_a_probe_without_answer_reblocks_and_measures_nothing_else() -> None:
    t = till()
    _block_cdn1(t)
    t.backend.host(CDN1).faults.down = True
    t.wait(BLOCK_MS)
    assert t.blocked() == [CDN1]
    assert t.health_checks(CDN2, CDN3) == [1, 1]


def test_two_probes_at_once_share_one_round_of_health_checks() -> None:
    t = till(latencies=(100, 200, 300))
    t.backend.host(CDN1).faults.down = True
    t.backend.host(CDN2).faults.down = True
    t.status_check()                           # cdn01 and cdn02 start blocked, their probes are due together
    assert t.blocked() == [CDN1, CDN2]
    t.backend.host(CDN1).faults.down = False
    t.backend.host(CDN2).faults.down = False
    t.wait(BLOCK_MS)
    assert t.blocked() == [] and t.order() == [CDN1, CDN2, CDN3]
    # (a host that is down does not count a health check) cdn01's probe answers first and starts the
    # round, cdn03 only: cdn02 waits for its own probe; that answer then only unblocks cdn02
    assert t.health_checks(CDN1, CDN2, CDN3) == [1, 1, 2]
