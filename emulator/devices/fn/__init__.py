"""The fiscal drive (ФН), modelled.

See ``emulator.wire.ffd`` for the layout of the whole fiscal stack. The drive
is sans-IO: time is passed in (virtual-clock milliseconds), documents are
``emulator.wire.ffd.document.Document`` objects, the archive is a SQLite file
written one transaction per document.

==============  =============================================================
module          what it holds
==============  =============================================================
model.py        ``FiscalDrive``: states, counters, the requisites the drive
                fills, the limits (24 h shift, 30 days unsent, expiry), the
                OFD queue; ``Signed``
archive.py      the SQLite archive (WAL, one transaction per document, the
                OFD queue's delivered flags and acknowledgements), its checks
                on opening and the set-aside of a damaged file
signs.py        the modelled fiscal sign (HMAC-SHA256 under the drive's own
                secret; ФП = bytes 2..5, big-endian) and local time
errors.py       ``FnError`` and the [3P] answer codes (read as hexadecimal)
show.py         ``kkt-emu fd show``: the archive's documents listed or one shown
==============  =============================================================
"""
