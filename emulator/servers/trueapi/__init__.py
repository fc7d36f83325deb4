"""The mock True API (Chestny Znak permit mode) as a pure model: no sockets, no clock.

``backend.TrueApiBackend`` answers ``NetRequest`` data with ``BackendReply``
data at a virtual time; ``catalogue.Catalogue`` holds the known marking codes
(the operator's sandbox codes by default). An HTTP front translates the same
model to and from the wire.
"""

from emulator.servers.trueapi.backend import BackendReply, CdnHost, Contour, StoredAnswer, TrueApiBackend
from emulator.servers.trueapi.catalogue import Catalogue, CatalogueEntry, CatalogueError

__all__ = ["BackendReply", "Catalogue", "CatalogueEntry", "CatalogueError", "CdnHost", "Contour", "StoredAnswer", "TrueApiBackend"]
