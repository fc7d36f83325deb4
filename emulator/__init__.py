"""kkt-emu: an emulator of an Incotex (Mercury) cash register (ККТ) in the Chestny Znak
permit mode («разрешительный режим»), with the servers around it.

Package map, bottom layer first (each imports only the layers below it; the
import-linter contract in ``pyproject.toml`` checks it)::

    emulator.base       clock, Moscow time, atomic storage, the error table, Failure
    emulator.rules      host/token syntax and masking, setting limits, marking codes, tag 2106
    emulator.wire       wire formats (the technological server's frames, token QR images)
    tls_store           the device's root-certificate store, TLS failure classification
    emulator.net        requests/results/failures as data; simulated and real links
    emulator.devices    the devices, sans-IO (devices.kkt: the Mercury core)
    emulator.servers    the mock servers, each a model and its fronts
    emulator.fronts     I/O that drives a device (the cashier driver, serve's console)
    emulator.world      the one composition root: a simulated or real world from a spec
    emulator.scenario, emulator.bench, emulator.serve, emulator.cli   the commands

The device core does no I/O: time comes from the clock it is given, and
network traffic leaves it as ``NetRequest`` data and comes back as
``NetResult`` data.
"""

__version__ = "0.1.0"
