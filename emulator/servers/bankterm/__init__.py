"""The emulated PrivatBank "ECR JSON" bank terminal: the model (``model.py``) and its TCP front (``tcp.py``)."""
