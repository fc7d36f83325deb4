"""The device's exchange with the technological server, in-process on the virtual clock."""

from emulator.base.clock import VirtualClock
from emulator.devices.kkt.device import KktDevice
from emulator.devices.kkt.settings import SettingsStore
from emulator.fronts.operator import Operator
from emulator.net.oism import SimOismLink
from emulator.net.simulated import SimulatedNetwork
from emulator.net.techlink import SimTechLink
from emulator.servers.oism.model import OismModel
from emulator.servers.techserver.model import TechServer
from emulator.servers.techserver.session import Session
from emulator.servers.trueapi import TrueApiBackend
from tls_store.lab_ca import LabCA

TOKEN = "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"
START = 1_768_456_800_000
MIN = 60_000


def world(tmp_path, ca=None):
    clock = VirtualClock(START)
    backend = TrueApiBackend()
    backend.add_token("prod", TOKEN)
    ca = ca or LabCA.create()
    model = TechServer(str(tmp_path / "tech.sqlite"), root_certs_pem=ca.cert_pem, clock=lambda: clock.now_ms)
    link = SimTechLink(clock, lambda: Session(model, lambda: clock.now_ms))
    dev = KktDevice(clock, SimulatedNetwork(clock, backend), tmp_path / "dev", tech_link=link,
                    oism=SimOismLink(OismModel()),
                    serial="00000000000042", inn="7701234567")
    dev.settings.token = TOKEN
    dev.settings.poll_period_min = 10
    return clock, model, link, dev


def settle(clock, dev):
    clock.run_while(lambda: dev.waiting, 60_000)


def make_records(clock, dev, n):
    # Missing answers: every check fails on a stalled host (748), each one a record.
    Operator(dev).goto("СТАТУС ГИС МТ")
    dev.press("ИТ")
    settle(clock, dev)
    Operator(dev).goto_main()
    dev.gismt.book.hosts[0].blocked_until = None
    for name in ("cdn01.crpt.ru", "cdn02.crpt.ru", "cdn03.crpt.ru"):
        dev.transport.backend.host(name).faults.latency_ms = 1700
    Operator(dev).goto("КАССОВЫЙ РЕЖИМ")
    for k in ("ИТ", "0", "ИТ", "3", "С"):
        dev.press(k)
    settle(clock, dev)
    for _ in range(n):
        Operator(dev).press_many("1 0")
        dev.scan("0104670540176099215NN*cM\x1d93dGVz")
        settle(clock, dev)
        while dev.mode == "message":
            dev.press("С")
    dev.press("ИТ")
    dev.press("С")


def test_records_are_uploaded_once_and_only_outside_cash_mode(tmp_path):
    clock, model, link, dev = world(tmp_path)
    make_records(clock, dev, 3)
    written = [r.text for r in dev.logbook.records]
    assert len(written) >= 3
    assert dev.mode.startswith("cash_")
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert dev.tech.stats.deferred == 1 and model.records(dev.serial) == []
    dev.press("РЕЖ")
    clock.advance(10 * MIN)
    settle(clock, dev)
    stored = [r.text for r in model.records(dev.serial)]
    assert stored == written                     # exactly as the device wrote them
    assert dev.logbook.pending_upload() == []
    # A second session sends nothing again; the server still holds each record once.
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert [r.text for r in model.records(dev.serial)] == written
    assert model.devices()[0].inn == "7701234567"


def test_upload_floor_of_five_minutes(tmp_path):
    clock, model, link, dev = world(tmp_path)
    dev.settings.poll_period_min = 5
    dev.tech.schedule()
    make_records(clock, dev, 1)
    dev.press("РЕЖ")
    clock.advance(5 * MIN)
    settle(clock, dev)
    n = len(model.records(dev.serial))
    assert n >= 1
    # A session opened by hand two minutes later does not upload the new record yet.
    dev.logbook.append(time_ms=clock.now_ms, code=748, flags=(None,) * 7, price=0, max_price=0, min_price=0,
                       expiry_s=0xFFFFFFFF, tag2106=0, elapsed_ms=1500, req_id="", req_timestamp=None)
    clock.advance(2 * MIN)
    dev.tech.start("by hand")
    settle(clock, dev)
    assert len(model.records(dev.serial)) == n
    clock.advance(3 * MIN)
    settle(clock, dev)
    assert len(model.records(dev.serial)) == n + 1


def test_certificate_push_prompt_and_apply(tmp_path):
    ca = LabCA.create()
    clock, model, link, dev = world(tmp_path, ca)
    clock.advance(10 * MIN)                      # first session: the server learns the device
    settle(clock, dev)
    serial = dev.serial
    model.request_and_apply_certs(serial)
    model.insert_cert(serial)
    model.set_setting(serial, "option", "92=0")
    model.send_all_settings(serial)
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert dev.mode == "settings_prompt"
    assert dev.display.text == "ЕСТЬ НАСТР. ДЛЯ\nОБНОВЛЕНИЯ [3]-ДА"
    dev.press("С")                               # any other key: left waiting
    assert dev.tls.slots() == [] and dev.mode == "main"
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert dev.mode == "settings_prompt"         # handed out again
    dev.press("3")
    settle(clock, dev)
    assert [s.fingerprint_sha256 for s in dev.tls.slots()] and dev.tls.describe() == "СЕРТИФИКАТЫ: 1/4"
    assert model.tasks(serial)[-1].state == "applied"
    assert dev.tech.result is None
    assert dev.tls_context() is not None         # 651 no more: a root is loaded


def test_a_refused_push_reports_the_device_code(tmp_path):
    clock, model, link, dev = world(tmp_path)
    clock.advance(10 * MIN)
    settle(clock, dev)
    for i in range(dev.tls.capacity):
        dev.tls.load_all(LabCA.create(common_name=f"r{i}").cert_pem)
    model.request_and_apply_certs(dev.serial)
    model.insert_cert(dev.serial)
    model.send_all_settings(dev.serial)
    clock.advance(10 * MIN)
    settle(clock, dev)
    dev.press("3")
    settle(clock, dev)
    assert dev.last_error == 650 and dev.display.text.startswith("650 Нет места")
    task = model.tasks(dev.serial)[-1]
    assert task.state == "failed" and task.result_code == 650


def test_link_down_is_noted_and_retried(tmp_path):
    clock, model, link, dev = world(tmp_path)
    link.down = True
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert dev.tech.stats.failed == 1
    assert any("exchange failed" in e.text for e in dev.events)
    link.down = False
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert model.devices() and dev.tech.stats.sessions == 2


def _record(clock, dev):
    dev.logbook.append(time_ms=clock.now_ms, code=748, flags=(None,) * 7, price=0, max_price=0, min_price=0,
                       expiry_s=0xFFFFFFFF, tag2106=0, elapsed_ms=1500, req_id="", req_timestamp=None)


def test_the_floor_runs_from_session_start_so_a_faster_link_does_not_skip_a_period(tmp_path):
    clock, model, link, dev = world(tmp_path)
    dev.settings.poll_period_min = 5
    dev.tech.schedule()
    link.latency_ms = 50
    _record(clock, dev)
    clock.advance(5 * MIN)
    settle(clock, dev)
    assert len(model.records(dev.serial)) == 1
    link.latency_ms = 20                         # the next HELLO's answer comes 30 ms sooner
    _record(clock, dev)
    clock.advance(5 * MIN)
    settle(clock, dev)
    assert len(model.records(dev.serial)) == 2   # uploaded at this period, not the next
    assert not any("wait: the last upload" in e.text for e in dev.events)


def _stored_settings(dev):
    return SettingsStore(dev.directory).load().to_json()


def test_pushed_settings_apply_all_together_or_not_at_all(tmp_path):
    ca = LabCA.create()
    clock, model, link, dev = world(tmp_path, ca)
    clock.advance(10 * MIN)
    settle(clock, dev)
    dev.store.save(dev.settings)
    before = dev.settings.to_json()
    good = {"kind": "cert", "value": ca.cert_der}
    leaf = ca.issue_server(["cdn01.crpt.ru"]).cert_der           # not a CA: 652
    # 749: a settings error; 652: a certificate the TLS store refuses.
    cases = [
        ([good, {"kind": "cert", "value": b"0garbage"}], 652),
        ([good, {"kind": "cert", "value": leaf}], 652),
        ([good, {"kind": "token", "value": "bad token!"}], 749),
        ([{"kind": "token", "value": "A" * 40}, {"kind": "gismt_host", "value": "bad host"}], 749),
        ([{"kind": "gismt_host", "value": "markirovka.sandbox.crptech.ru"}, {"kind": "sale_ban", "value": "НЕТ"}],
         749),
        ([{"kind": "poll_period", "value": "7"}, {"kind": "option", "value": "92=5"}], 749),
        ([{"kind": "poll_period", "value": "7"}, {"kind": "nonsense", "value": "1"}], 749),
    ]
    for items, code in cases:
        dev.tech.pending_task = (99, items)
        dev.settings_arrived()
        dev.press("3")
        assert dev.tech.result == (99, False, code), items
        assert dev.tls.slots() == [], items          # a good certificate before the bad item did not stay
        assert dev.settings.to_json() == before, items
        assert _stored_settings(dev) == before, items
        settle(clock, dev)
        while dev.mode == "message":
            dev.press("С")
    # A good push goes in whole.
    dev.tech.pending_task = (100, [good, {"kind": "poll_period", "value": "7"}, {"kind": "option", "value": "92=1"}])
    dev.settings_arrived()
    dev.press("3")
    assert dev.tech.result == (100, True, 0)
    assert len(dev.tls.slots()) == 1 and dev.settings.poll_period_min == 7 and dev.settings.host_check_off
    assert _stored_settings(dev) == dev.settings.to_json()


def test_the_session_goes_to_the_server_named_in_the_menu(tmp_path):
    clock, model, link, dev = world(tmp_path)
    Operator(dev).goto("АДРЕС СЕРВЕРА")
    assert dev.display.text.split("\n") == ["АДРЕС СЕРВЕРА", "rd.incotexkkm.ru"]
    dev.press("ИТ")
    dev.press("С")
    dev.type_text("rd.example.ru")
    dev.press("ИТ")
    assert dev.settings.tech_server_host == "rd.example.ru"
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert model.devices() == [] and link.sessions_opened == 0
    assert dev.tech.stats.failed == 1
    assert any(e.text == "exchange failed: rd.example.ru: unknown host" for e in dev.events)
    dev.settings.tech_server_host = "RD.INCOTEXKKM.RU"      # names are not case-sensitive
    clock.advance(10 * MIN)
    settle(clock, dev)
    assert [d.serial for d in model.devices()] == [dev.serial]


def _append(dev, n):
    from tests.servers.techserver.device_proc import record_fields

    for i in range(n):
        dev.logbook.append(**record_fields(i, dev.clock.now_ms + i))


class LyingSession:
    """The server's session, but its first LOG_ACK also lists every seq up to 1000 and the next LOG_RECORDS fails."""

    def __init__(self, inner):
        self.inner = inner
        self.acks = 0

    def handle(self, frame):
        from emulator.wire.techframes import Frame

        replies, close = self.inner.handle(frame)
        if frame.type == "LOG_RECORDS":
            self.acks += 1
            if self.acks == 1:
                ack = replies[0]
                return [Frame("LOG_ACK", ack.seq, {**ack.payload, "stored": list(range(1, 1001))})], close
            return [Frame("ERROR", frame.seq, {"code": 4, "text": "internal error"})], True
        return replies, close


def test_an_acknowledgement_of_seqs_never_sent_marks_nothing_more(tmp_path, monkeypatch):
    import functools

    from emulator.devices.kkt import techexchange

    monkeypatch.setattr(techexchange, "record_batches",
                        functools.partial(techexchange.record_batches, max_payload=3000))
    clock, model, link, dev = world(tmp_path)
    sessions = []
    link.open_session = lambda: sessions.append(LyingSession(Session(model, lambda: clock.now_ms))) or sessions[-1]
    _append(dev, 40)
    first_batch = techexchange.record_batches([{"seq": r.seq, "time_ms": r.time_ms, "code": r.code, "text": r.text}
                                               for r in dev.logbook.pending_upload()])[0]
    assert 1 < len(first_batch) < 40
    assert dev.tech.start("test")
    settle(clock, dev)
    pending = [r.seq for r in dev.logbook.pending_upload()]
    assert pending == list(range(len(first_batch) + 1, 41))      # only the batch that was sent is marked
    assert any("acknowledgement ignored" in e.text for e in dev.events)


def test_the_device_key_is_made_once_kept_private_and_checked(tmp_path):
    import stat

    clock, model, link, dev = world(tmp_path)
    key_file = tmp_path / "dev" / "tech_key"
    assert not key_file.exists()                                 # a directory from before keys: none yet
    assert dev.tech.start("test")
    settle(clock, dev)
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert model.device("00000000000042").key_fingerprint
    key = key_file.read_text()
    dev.power_off()
    again = KktDevice(clock, dev.transport, tmp_path / "dev", tech_link=link, oism=SimOismLink(OismModel()),
                      serial="00000000000042", inn="7701234567")
    assert again.tech.start("after power-up")
    settle(clock, again)
    assert key_file.read_text() == key and model.session_count("00000000000042") == 2
    assert not [e for e in again.events if "exchange failed" in e.text]
    # Another key under the same serial (a replaced memory) is refused until the server forgets the old one.
    again.power_off()
    key_file.unlink()
    third = KktDevice(clock, dev.transport, tmp_path / "dev", tech_link=link, oism=SimOismLink(OismModel()),
                      serial="00000000000042", inn="7701234567")
    assert third.tech.start("new memory")
    settle(clock, third)
    assert [e.text for e in third.events if "exchange failed" in e.text] == [
        "exchange failed: HELLO: server error 6 device 00000000000042: the device key does not match the registered one"]
    model.forget_identity("00000000000042")
    assert third.tech.start("again")
    settle(clock, third)
    assert model.session_count("00000000000042") == 3
