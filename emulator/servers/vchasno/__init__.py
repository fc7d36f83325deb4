"""The Vchasno.Kasa cabinet as a mock server: the model (``model.py``) and its HTTP front (``web.py``)."""
