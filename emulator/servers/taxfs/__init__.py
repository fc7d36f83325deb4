"""The mock fiscal server of the tax service (ДПС) for ПРРО: model and HTTP front on loopback."""
