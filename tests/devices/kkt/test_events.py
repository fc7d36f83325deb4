"""Typed device events: the trace text each kind renders (``kind: text``), field by field."""

from emulator.devices.kkt import events as ev


def test_each_event_renders_its_trace_text() -> None:
    t = 0
    cases = [
        (ev.KeyPressed(t, "ИТ"), "key: ИТ"),
        (ev.Typed(t, "12.50"), "type: 12.50"),
        (ev.Scanned(t, "0104600000000017"), "scan: 0104600000000017"),
        (ev.QrRefused(t, "no QR code"), "scan: QR image refused: no QR code"),
        (ev.Beeped(t, "scan ignored"), "beep: scan ignored"),
        (ev.ErrorShown(t, 748), "error: 748"),
        (ev.LogWritten(t, 748, "codes/check cdn01: no answer"), "log: 748 codes/check cdn01: no answer"),
        (ev.EmergencyChanged(t, True, by_hand=False), "emergency: on (GIS MT answered 203)"),
        (ev.EmergencyChanged(t, True, by_hand=True), "emergency: on (by hand)"),
        (ev.EmergencyChanged(t, False, by_hand=True), "emergency: off (by hand)"),
        (ev.TlsNote(t, "host authentication OFF (option 92 = 1)"), "tls: host authentication OFF (option 92 = 1)"),
        (ev.PoweredOff(t), "power: off"),
        (ev.StateFileSetAside(t, "state.json", "state.json.bad", "not JSON: x", "the shift"),
         "state: state.json is damaged (not JSON: x); kept as state.json.bad; the shift back to defaults"),
        (ev.SettingChanged(t, "gismt_host", "cdn.crpt.ru"), "setting: gismt_host=cdn.crpt.ru"),
        (ev.SettingChanged(t, "option 92", "1"), "setting: option 92=1"),
        (ev.SettingChanged(t, "token", "7f0c****1c42", "scanned"), "setting: token=7f0c****1c42 (scanned)"),
        (ev.DefaultsRestored(t), "setting: permit-mode defaults restored"),
        (ev.ShiftOpened(t, 3), "shift: opened #3"),
        (ev.ShiftClosed(t, 3), "shift: closed #3"),
        (ev.CdnNote(t, "refresh at shift opening"), "cdn: refresh at shift opening"),
        (ev.TechNote(t, "session ended (poll)"), "tech: session ended (poll)"),
        (ev.LeftCashMode(t), "cash: left cash mode"),
        (ev.SaleRefused(t, 758, "by the cashier"), "refused: 758 by the cashier"),
        (ev.ReceiptOpened(t, 7, "sale"), "receipt: #7 opened (sale)"),
        (ev.ReceiptClosed(t, 7, 12_345), "receipt: #7 closed, total 123.45"),
        (ev.ReceiptCancelled(t, 7), "receipt: #7 cancelled"),
        (ev.ReceiptDiscarded(t, 7), "receipt: #7 discarded (nothing sold)"),
        (ev.PositionAdded(t, 1, 1000), "position: #1 10.00"),
        (ev.PositionAdded(t, 2, 105, "allowed"), "position: #2 1.05 marked, GIS MT: allowed"),
    ]
    for event, text in cases:
        assert event.render() == text
        assert f"{event.kind}: {event.text}" == text
