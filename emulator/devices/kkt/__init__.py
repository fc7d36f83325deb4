"""The device core: a sans-IO state machine of the Incotex ККТ (``device.KktDevice``).

How the core is put together
----------------------------

``KktDevice`` is one object with one state; its parts are mixin classes, each
in its own module and each about one seam of the device, stacked in a line
so that a part only calls the parts below it::

    state.DeviceCore      the shared state, state.json, events, messages on the display
    screen.Screen         rendering: what the display shows in each mode
    permitglue.PermitGlue the GIS MT client's side of the device (records, 203, «!»),
                          emergency mode, «СТАТУС ГИС МТ»
    techglue.TechGlue     settings pushed by the technological server, the cashier's answer
    menu.MenuKeys         the menu: navigation, editing, options, context menus
    sale.MarkedSales      selling: free and marked positions, ОИСМ and GIS MT, the question
    cash.CashDesk         cash mode: password, shift, receipt, document type
    device.KktDevice      construction, the public inputs and observations, the key table

Mixins rather than separate objects because every part reads and changes the
same few fields (the mode, the buffer, the receipt, the settings) and puts up
the same messages: passing one state object to a dozen collaborators would
only spell ``self.state.mode`` where the parts now say ``self.mode``. The
modes are data (``modes.Mode``), and which handler takes a key in which mode
is one table (``KktDevice.KEYS``).

The sub-clients are separate objects with narrow interfaces: ``GisMtClient``
(``gismt.py``, ``cdnprobe.py``, ``cdnrefresh.py``) sees its device as ``GisMtHost``,
``TechExchange`` (``techexchange.py``) as ``TechHost``; neither imports the
device. The ОИСМ check is a callback link (``emulator.net.oism``). What the
device reports are typed events (``events.py``).
"""
