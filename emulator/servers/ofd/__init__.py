"""The mock fiscal data operator (ОФД): model, TCP front over the session
framing, pages. See ``emulator.wire.ffd`` for the whole fiscal stack."""
