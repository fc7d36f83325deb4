"""ESC/POS, the receipt printers' byte stream: the parser (``parser.py``) and the paper it prints on (``paper.py``)."""
