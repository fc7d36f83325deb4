"""kkt-emu: an emulator of an Incotex (Mercury) cash register (ККТ) in the
Chestny Znak permit mode («разрешительный режим»), with the servers around it.

Package map (data flows top to bottom)::

    emulator.scenario   YAML scenarios on virtual time -> steps and expectations
    emulator.kkt        the device core: a sans-IO state machine
                          device.py    KktDevice: keys, scanner, cash mode, menus
                          settings.py  persisted settings (atomic JSON writes)
                          permit.py    True API answer -> PermitDecision (751-758, 760)
                          cdn.py       CDN list, ranking, blocking (747, 764, 768)
                          gismt.py     one receipt's check session: retries, deadline,
                                       the error mapping for failures (748-750, 761-766)
                          logbook.py   GIS MT log records in the seed's format
    emulator.net        requests and results as data; the simulated network
    emulator.trueapi    the mock True API backend model (pure, clock-driven)
    emulator.clock      the one virtual clock (integer milliseconds)
    emulator.errors     the device error table (data/errors.yaml)
    firmware_menu       display (2 x 20 + status area), keypad, menu tree (data)
    tls_store           root-certificate slots of the device

The device core does no I/O: time comes from the clock it is given, ids and
randomness from a seeded generator, and network traffic leaves it as
``NetRequest`` data and comes back as ``NetResult`` data.
"""

__version__ = "0.1.0"
