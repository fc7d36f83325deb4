from emulator.devices.kkt.cdn import BLOCK_MS, CdnBook


def test_ranked_by_measured_latency_and_unanswered_hosts_start_blocked():
    b = CdnBook()
    b.replace(["cdn01", "cdn02", "cdn03", "cdn04"], {"cdn01": 400, "cdn02": 300, "cdn03": 500, "cdn04": None}, 0)
    assert [h.name for h in b.hosts] == ["cdn02", "cdn01", "cdn03", "cdn04"]
    assert b.get("cdn04").blocked(0) and not b.get("cdn04").blocked(BLOCK_MS)
    assert b.active(0).name == "cdn02"


def test_three_slow_or_two_errors_block_and_ok_resets():
    b = CdnBook()
    b.replace(["a", "b"], {"a": 1, "b": 2}, 0)
    a = b.get("a")
    assert not b.record_slow(a, 10) and not b.record_slow(a, 20)
    b.record_ok(a)
    assert not b.record_slow(a, 30) and not b.record_slow(a, 40) and b.record_slow(a, 50)
    assert b.active(60).name == "b"
    bb = b.get("b")
    assert not b.record_error(bb, 70) and b.record_error(bb, 80)
    assert b.active(90) is None and b.all_blocked(90)
    b.clear_blocks()
    assert b.active(90).name == "a"


def test_unblock_reranks_and_reblock_extends():
    b = CdnBook()
    b.replace(["a", "b"], {"a": 100, "b": 200}, 0)
    a = b.get("a")
    b.block(a, 0)
    b.reblock(a, BLOCK_MS)
    assert a.blocked(2 * BLOCK_MS - 1)
    b.unblock(a, 500)
    assert [h.name for h in b.hosts] == ["b", "a"]


def test_remeasured_reranks_all_and_blocks_the_silent() -> None:
    b = CdnBook()
    b.replace(["a", "b", "c"], {"a": 100, "b": 200, "c": 300}, 0)
    a, bb, c = b.get("a"), b.get("b"), b.get("c")
    gone = CdnBook()
    gone.replace(["a"], {"a": 1}, 0)
    newly = b.remeasured([(bb, 50), (c, None), (gone.get("a"), 1)], 10)
    assert newly == [c] and c.blocked(10) and c.blocked_until == 10 + BLOCK_MS
    assert [h.name for h in b.hosts] == ["b", "a", "c"] and a.latency_ms == 100
    assert b.remeasured([(c, None)], 20) == []        # already blocked: not blocked anew
    assert c.blocked_until == 10 + BLOCK_MS


def test_replace_marks_a_fallback_list() -> None:
    b = CdnBook()
    b.replace(["a"], {"a": 1}, 0, fallback=True)
    assert b.fallback
    b.replace(["a"], {"a": 1}, 5)
    assert not b.fallback and b.refreshed_at == 5


def test_a_host_being_probed_stays_unavailable_until_the_probe_answers():
    b = CdnBook()
    b.replace(["a", "b"], {"a": 100, "b": 200}, 0)
    a = b.get("a")
    b.block(a, 0)
    a.probing = True                       # the block ran out, the probe is on the wire
    assert a.blocked(BLOCK_MS + 1) and b.active(BLOCK_MS + 1).name == "b"
    b.unblock(a, 150)
    assert not a.probing and b.active(BLOCK_MS + 2).name == "a"
    b.block(a, 0)
    a.probing = True
    b.reblock(a, BLOCK_MS + 3)             # no answer: blocked another 15 minutes
    assert not a.probing and a.blocked(2 * BLOCK_MS) and not a.blocked(2 * BLOCK_MS + 3)
    a.probing = True
    b.clear_blocks()                       # every host blocked: the list is refreshed, blocks cleared
    assert not a.probing and b.active(0).name == "a"
