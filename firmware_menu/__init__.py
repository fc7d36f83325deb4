"""The firmware's face: the keypad, the 2 x 20 display with its status area, and
the menu tree (``menu.yaml``: one place for every label the device shows).

Strings quoted by the vendor's permit-mode instruction are reproduced exactly;
everything else in the tree is modelled and marked ``modelled: true`` in the data.
"""
