"""The fiscal drive (ФН), modelled.

See ``emulator.wire.ffd`` for the layout of the whole fiscal stack. The drive
is sans-IO: time is passed in (virtual-clock milliseconds), documents are
``emulator.wire.ffd.document.Document`` objects, the archive is a SQLite file
written one transaction per document.
"""
