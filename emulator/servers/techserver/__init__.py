"""The vendor's technological server (rd.incotexkkm.ru), MODELLED.

Its KKT protocol and its web pages are not public; everything here is the
emulator's own model: ``wire`` (frames), ``model`` (state in SQLite), ``tcp``
(the exchange over TCP/TLS) and ``web`` (pages for people and a JSON API).
"""
