"""Documents for the OFD and ОИСМ tests: a marked receipt, its envelope."""

import datetime as dt

from emulator.wire.ffd.document import Document
from emulator.wire.ffd.envelope import wrap_document

FN = "9999078900005488"
CODE = "0104650117240408215Qbag!\x1d93Zjqw"
T0 = 1_764_590_400_000     # 2025-12-01 12:00 UTC


def receipt(fd: int, when: dt.datetime = dt.datetime(2025, 12, 1, 15, 0), fn: str = FN, total: int = 10000) -> bytes:
    industry = ((1262, "030"), (1263, "21.11.2023"), (1264, "1944"),
                (1265, "UUID=2ce10bdb-6510-4d37-be04-dd473b98c728&Time=1692691702065"))
    item = ((1030, "Сигареты"), (2000, CODE), (1260, industry), (2106, 15))
    plain = ((1030, "Хлеб"),)
    return Document(3, ((1012, when), (1040, fd), (1041, fn), (1059, item), (1059, plain),
                        (1020, total))).encode()


def message(fd: int, fn: str = FN, **kw) -> bytes:
    return wrap_document(receipt(fd, fn=fn, **kw), fn_number=fn, fd_number=fd, trailer=bytes(8))
