"""The receipt printer: a fiscal document → what the paper shows, and the receipt QR code.

Sans-IO: it takes a decoded document (``emulator.wire.ffd.document.Document``,
or anything with ``doc_type``, ``get`` and ``all``) and the fiscal sign as the
drive printed it, and gives back data; the device writes the image where its
state directory says. See ``emulator.wire.ffd`` for the whole fiscal stack.

Layout::

    form.py     ``print_form(doc, fiscal_sign)`` → the text lines of the paper
                (32 columns); ``mark_sign(tag2106)`` → ``[М+]`` / ``[М]`` /
                ``[М-]``; ``qr_text(doc, fiscal_sign)`` → the receipt QR
                payload ``t=…&s=…&fn=…&i=…&fp=…&n=…``; ``parse_qr_text``
    image.py    ``qr_png(text)`` → PNG bytes of that QR code (``qrcode``)

What is faithful: the QR payload's fields and their formats (the FNS receipt
check QR code), the marked-item signs and their rule (bits 1 and 3 of tag
2106, a vendor convention of third-party code). What is modelled: the paper's
layout, its width and its wording.
"""

from emulator.devices.printer.form import PrintOut, mark_sign, parse_qr_text, print_form, qr_text

__all__ = ["PrintOut", "mark_sign", "parse_qr_text", "print_form", "qr_text"]
