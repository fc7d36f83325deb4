import pytest

from emulator.base.clock import VirtualClock


def test_equal_time_timers_fire_in_scheduling_order():
    c = VirtualClock(1000)
    out: list[str] = []
    c.call_at(2000, lambda: out.append("a"))
    c.call_at(1500, lambda: out.append("early"))
    c.call_at(2000, lambda: out.append("b"))
    c.call_later(1000, lambda: out.append("c"))
    c.run_until(2000)
    assert out == ["early", "a", "b", "c"]
    assert c.now_ms == 2000


def test_advance_sets_time_even_without_timers():
    c = VirtualClock(5)
    c.advance(10)
    assert c.now_ms == 15
    with pytest.raises(ValueError):
        c.run_until(3)
    with pytest.raises(ValueError):
        c.advance(-1)


def test_cancelled_timer_does_not_fire_and_time_is_consistent_inside_callbacks():
    c = VirtualClock()
    seen: list[int] = []
    t = c.call_later(10, lambda: seen.append(-1))
    c.call_later(20, lambda: seen.append(c.now_ms))
    t.cancel()
    assert c.pending() == 1
    c.run_until_idle()
    assert seen == [20]


def test_timers_scheduled_from_callbacks_run_in_the_same_advance():
    c = VirtualClock()
    seen: list[int] = []

    def first() -> None:
        seen.append(c.now_ms)
        c.call_later(5, lambda: seen.append(c.now_ms))

    c.call_later(10, first)
    c.advance(100)
    assert seen == [10, 15]


def test_run_until_idle_guards_against_periodic_timers():
    c = VirtualClock()

    def tick() -> None:
        c.call_later(1, tick)

    c.call_later(1, tick)
    with pytest.raises(RuntimeError):
        c.run_until_idle(limit=50)


def test_run_while_stops_when_condition_clears_and_leaves_far_timers():
    c = VirtualClock()
    state = {"busy": True}
    c.call_later(300, lambda: state.update(busy=False))
    far: list[int] = []
    c.call_later(10_000, lambda: far.append(1))
    assert c.run_while(lambda: state["busy"], max_ms=5000)
    assert c.now_ms == 300 and far == []
    state["busy"] = True
    assert not c.run_while(lambda: state["busy"], max_ms=1000)
