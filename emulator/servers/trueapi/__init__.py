"""The mock True API (Chestny Znak permit mode), moto-style: model, routes, front.

``model.TrueApi`` holds the state and rules (contours, hosts, tokens, codes,
history) and raises a typed ``model.Refusal`` for every refusal;
``routes.TrueApiBackend`` is that model with its HTTP routes, answering
``NetRequest`` data with ``BackendReply`` data at a virtual time (the simulated
network's entry point); ``catalogue.Catalogue`` holds the known marking codes
(the operator's sandbox codes by default). The front, ``asgi.py`` and
``servers.py``, puts the same replies on the wire.
"""

from emulator.servers.trueapi.catalogue import Catalogue, CatalogueEntry, CatalogueError
from emulator.servers.trueapi.model import Contour, Refusal, ServedHost, StoredAnswer, TrueApi
from emulator.servers.trueapi.routes import BackendReply, TrueApiBackend

__all__ = ["BackendReply", "Catalogue", "CatalogueEntry", "CatalogueError", "Contour", "Refusal", "ServedHost",
           "StoredAnswer", "TrueApi", "TrueApiBackend"]
