"""The device core: a sans-IO state machine of the Incotex ККТ (see ``device.py``)."""
