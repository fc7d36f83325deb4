"""The DM's print forms of a receipt: ``pf_text``, ``pf_image``, ``pf_pdf`` as Base64 data URIs.

A form is the paper the receipt would print on: the receipt is laid out in
ESC/POS exactly as ``escposlink`` sends it, read back by the printer's own
parser and paper (``emulator.wire.escpos``), and then

* ``pf_text`` — its lines in windows-1251 (characters that code page lacks
  become ``?``), ``data:text/plain;charset=windows-1251;base64,…``;
* ``pf_image`` — the PNG render, ``data:image/png;base64,…``;
* ``pf_pdf`` — the same picture as a one-page PDF (Pillow's PDF writer),
  ``data:application/pdf;base64,…``.

So what a DM answers as a form and what the printer prints cannot differ.
"""

from __future__ import annotations

import base64

from emulator.net.escposlink import Receipt, layout
from emulator.wire.escpos.paper import Document, Paper, pdf_bytes, png_bytes, render
from emulator.wire.escpos.parser import EscPosParser

FORMS = ("pf_text", "pf_image", "pf_pdf")


def paper_of(receipt: Receipt) -> Document:
    """The receipt as the printer lays it out (``ReceiptError`` when the data make no receipt)."""
    paper = Paper(keep=1)
    for e in EscPosParser().feed(layout(receipt)):
        paper.apply(e)
    return paper.documents[-1] if paper.documents else paper.current


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    """(media type with its parameters, bytes) of a Base64 data URI; ``ValueError`` for anything else."""
    head, sep, body = uri.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise ValueError("not a Base64 data URI")
    return head[5:-7], base64.b64decode(body, validate=True)


def print_forms(receipt: Receipt, txt: bool = True, img: bool = True, pdf: bool = True) -> dict[str, str]:
    """The forms asked for (the DM's ``need_pf_txt`` / ``need_pf_img`` / ``need_pf_pdf``)."""
    doc = paper_of(receipt)
    out: dict[str, str] = {}
    if txt:
        text = "\r\n".join(line.rstrip() for line in doc.text_lines()).rstrip() + "\r\n"
        out["pf_text"] = data_uri("text/plain;charset=windows-1251", text.encode("cp1251", errors="replace"))
    if img or pdf:
        page = render(doc)
        if img:
            out["pf_image"] = data_uri("image/png", png_bytes(page))
        if pdf:
            out["pf_pdf"] = data_uri("application/pdf", pdf_bytes(page))
    return out
