"""The fixed headers are built with their compiled schemas: byte for byte what the interpreted ones build."""

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.wire.ffd import container, session

digits = st.text(alphabet="0123456789", min_size=16, max_size=16)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.integers(0, 0xFF),
       st.integers(0, 0xFF), st.binary(min_size=2, max_size=2), st.binary(min_size=8, max_size=8),
       st.integers(0, 0xFFFFFF), st.binary(min_size=12, max_size=12))
def test_container_header(length, crc, mtype, dtype, version, s1, fn, fd, s2) -> None:
    values = {"length": length, "crc": crc, "message_type": mtype, "doc_type": dtype, "protocol_version": version,
              "service1": s1, "fn_bcd": fn, "fd_number": fd, "service2": s2}
    assert container.BUILD_HEADER.build(values) == container.ContainerHeader.build(values)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=4, max_size=4), st.binary(min_size=2, max_size=2), st.binary(min_size=2, max_size=2),
       digits, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_session_header(signature, s_version, pa_version, fn, length, flags, crc) -> None:
    values = {"signature": signature, "s_version": s_version, "pa_version": pa_version,
              "fn_number": fn.encode("ascii"), "body_length": length, "flags": flags, "crc": crc}
    assert session.BUILD_HEADER.build(values) == session.SessionHeader.build(values)


def test_the_parsers_stay_interpreted() -> None:
    """Untrusted input never meets a compiled schema: decoding goes through the interpreted one."""
    import inspect

    for module in (container, session):
        src = inspect.getsource(module)
        assert src.count("BUILD_HEADER.build(") == 1
        assert "BUILD_HEADER.parse" not in src
