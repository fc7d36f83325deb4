"""The training console: the KKT in a browser (``app.WebConsole``), served by ``kkt-emu serve``."""

from emulator.fronts.webconsole.app import WebConsole

__all__ = ["WebConsole"]
