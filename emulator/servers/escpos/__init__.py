"""The emulated network receipt printer: the model (``model.py``) and its raw TCP front (``tcp.py``)."""
