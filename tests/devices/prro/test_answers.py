"""The tax server's error answers as the ПРРО shows them (the seeds' texts), in both error formats."""

import pytest

from emulator.devices.prro.answers import read_doc_answer, read_error
from emulator.servers.taxfs.model import Refusal, TaxServer, error_data


def _texts(got):
    from emulator.devices.prro.messages import text
    return [m[1:] if m.startswith("@") else text(m) for m in got.messages]


CERT = error_data()["certificate"]


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("code,server_text,shown", [
    (12, CERT["revoked"].format(serial="5A"), ["The signer's certificate has been revoked", "Certificate revoked",
                                               "CertStatus: 1"]),
    (12, CERT["unknown"], ["Certificate not found"]),
    (12, CERT["expired"].format(serial="5A"), ["The certificate has expired"]),
    (4, None, ["ShiftAlreadyOpened"]),
    (9, None, ["DocumentValidationError"]),
    (2, None, ["No available business units"]),
])
def test_the_servers_refusals_become_the_seeds_messages(code, server_text, shown, as_json):
    answer = TaxServer.error_answer(Refusal(code, server_text), as_json)
    got = read_doc_answer(answer.status, answer.body)
    assert not got.ok and got.error_code == code
    assert _texts(got) == shown


def test_an_error_code_that_is_not_an_integer_is_no_code():
    got = read_error(200, b'{"ErrorCode":1e310,"":""}')
    assert got.error_code is None and not got.ok


def test_an_unknown_code_is_shown_as_the_server_wrote_it():
    got = read_error(400, "Код помилки: 7 CheckLocalNumberInvalid\r\nЛокальний номер 5".encode())
    assert _texts(got) == ["Код помилки: 7 CheckLocalNumberInvalid"]
    assert got.error_line == "Код помилки: 7 CheckLocalNumberInvalid: Локальний номер 5"
