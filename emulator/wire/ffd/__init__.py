"""FFD 1.2 fiscal documents and their framings, as ``construct`` schemas.

Layout of the fiscal stack (one module per frame family here; the rest of the
stack in the layers above)::

    emulator/data/ffd_tags.yaml     the tag table as data: number, Russian name,
                                    FNS JSON name, type, size limits
    emulator/rules/ffdtags.py       loads it: ``TAGS[number] -> TagSpec``
    wire/ffd/values.py              value types: CP866 string (max / fixed,
                                    space-padded), byte, bool, U32, VLN, FVLN,
                                    UNIXTIME (local time), ФПД
    wire/ffd/tlv.py                 TLV / STLV: ``decode_fields(data)`` and
                                    ``encode_fields(fields)``; ``FfdError``
                                    (offset + text) for any bad input
    wire/ffd/document.py            ``Document(doc_type, fields)``: decode /
                                    encode of a whole document STLV, ``get``,
                                    ``all``, ``to_json()`` with FNS names
    wire/ffd/session.py             the 30-byte session header, CRC-16/CCITT-FALSE,
                                    peer constants (OFD, ОИСМ), an incremental
                                    ``SessionFramer`` (feed bytes → messages,
                                    resynchronise after garbage, bounded buffer)
    wire/ffd/container.py           the 32-byte container header (BCD ФН number,
                                    3-byte big-endian ФД number, container CRC)
                                    and the ФПС trailer
    wire/ffd/fnframe.py             the ФН ↔ ККТ frame [3P]: 04 LEN CMD DATA CRC

    devices/fn/                     the fiscal drive (ФН) model: states,
                                    counters, fiscal signs keyed by the drive's
                                    own secret, the archive in SQLite (one
                                    transaction per document), the OFD queue,
                                    the 24 h / 30 day / expiry limits, error
                                    codes [3P]
    devices/printer/                the receipt printer: a document → the text
                                    print form and a PNG with the receipt QR code
    devices/kkt/fiscal*.py          the device's fiscal glue: a closed receipt →
                                    an FFD 1.2 «Кассовый чек» in the drive; the
                                    ОИСМ request (81 → 83) before GIS MT; the
                                    OFD delivery of the drive's queue
    net/ofdlink.py                  the device's link to the OFD and the ОИСМ:
                                    simulated (in-process server model on the
                                    virtual clock) and TCP (session framing)
    servers/ofd/                    the mock OFD: model (stores documents,
                                    acknowledges with type 7 signed by its own
                                    model, fault plans), tcp.py, web.py (page +
                                    JSON API of received documents)
    servers/oism/                   the mock ОИСМ: model (2106 per code), tcp.py
                                    (81 → 83, 82 → 84 over the session framing)

Data flow of a marked sale::

    scan → ОИСМ request 81 (net/ofdlink) → 83 with 2106 → GIS MT check (1260)
         → close receipt → devices/fn: Document(3) + ФД number + ФП, archived
         → OFD queue → net/ofdlink session message → servers/ofd → ack 7
         → devices/fn marks it delivered; devices/printer prints it.

Values in the Python form of a document: strings are ``str``, byte/U32/VLN
are ``int``, bool is ``bool``, FVLN is ``decimal.Decimal``, UNIXTIME is a
naive ``datetime`` (local time, as the drive counts it), ФПД and unknown
tags are ``bytes``, an STLV is a tuple of ``(tag, value)`` pairs.
"""
