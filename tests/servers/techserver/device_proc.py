"""A KKT device as a separate process, for the "nothing lost, nothing twice" tests.

Not a test module (no ``test_`` prefix): ``tests/servers/techserver/test_no_loss.py``
runs it with ``sys.executable`` and reads its progress lines on stdout::

    python device_proc.py DEVICE_DIR [--server HOST:PORT] [--make N] [--batch-bytes B]
                                     [--append-forever] [--timeout S]

* ``--make N`` appends N log records to the device's logbook (SQLite, in
  DEVICE_DIR) before the session; each differs in code, price and UUID.
* ``--batch-bytes B`` shrinks the LOG_RECORDS payload (``wire.MAX_PAYLOAD`` by
  default) in this process only, so a few hundred records make many batches.
* ``--server`` opens one session with the technological server over TCP
  (``TcpTechLink`` on a ``RealTimeDriver``) and runs until it ends.
* ``--append-forever`` appends records in a tight loop until the process is
  killed (no session).

Lines printed (flushed at once, so a test can time a SIGKILL on them)::

    ready next_seq=<n> pending=<n>
    made <n>
    appending                      (--append-forever: the loop is running)
    hello sent / hello             (HELLO out / HELLO_ACK in)
    batch sent <first>-<last> <k>  (a LOG_RECORDS frame goes out)
    acked <k> total=<t>            (after the device marked the stored seqs in its SQLite)
    failed <why>                   (the session broke)
    done pending=<n> uploaded=<t>

Exit status: 0 when the session ended without a failure and nothing is left
pending, 2 otherwise.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.base.clock import VirtualClock  # noqa: E402
from emulator.devices.kkt import techexchange  # noqa: E402
from emulator.devices.kkt.device import KktDevice  # noqa: E402
from emulator.devices.kkt.events import TechNote  # noqa: E402
from emulator.devices.kkt.logbook import NO_EXPIRY  # noqa: E402
from emulator.net.oism import SimOismLink  # noqa: E402
from emulator.net.real import RealTimeDriver  # noqa: E402
from emulator.net.simulated import SimulatedNetwork  # noqa: E402
from emulator.net.techlink import TcpTechLink, TechReply  # noqa: E402
from emulator.servers.oism.model import OismModel  # noqa: E402
from emulator.servers.trueapi import TrueApiBackend  # noqa: E402
from emulator.wire.techframes import Frame  # noqa: E402

SERIAL = "00106700000077"
INN = "7701234567"
ANSWERED = (True, True, True, False, False, True, False)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def record_fields(i: int, now_ms: int) -> dict[str, object]:
    """The fields of the i-th made record (seq comes from the logbook), in three kinds the device writes."""
    kind = i % 3
    uuid = f"{i:08x}-5d2f-4c53-9a8e-{(i * 7919) % 0xFFFFFFFFFFFF:012x}"
    ts = now_ms - 250 + i % 97
    if kind == 0:   # 758: the price is above the maximum retail price in the answer
        return dict(time_ms=now_ms, code=758, flags=ANSWERED, price=15_000 + i, max_price=12_990 + (i % 40) * 10,
                    min_price=10_850, expiry_s=now_ms // 1000 + 86_400 * (30 + i % 300), tag2106=2,
                    elapsed_ms=180 + i % 400, req_id=uuid, req_timestamp=ts, tz_offset_min=180,
                    note=f"price above MRP ({i})")
    if kind == 1:   # 751: the code is not found
        return dict(time_ms=now_ms, code=751, flags=(False, False, False, False, False, False, False),
                    price=9_900 + i, max_price=0, min_price=0, expiry_s=NO_EXPIRY, tag2106=3,
                    elapsed_ms=95 + i % 300, req_id=uuid, req_timestamp=ts, tz_offset_min=180,
                    note=f"not found ({i})")
    # 748: no answer within the deadline, every flag unknown
    return dict(time_ms=now_ms, code=748, flags=(None,) * 7, price=4_500 + i, max_price=0, min_price=0,
                expiry_s=NO_EXPIRY, tag2106=0, elapsed_ms=1500, req_id="", req_timestamp=None,
                tz_offset_min=180, note=f"no answer ({i})")


class ReportingLink(TcpTechLink):
    """``TcpTechLink`` that reports HELLO and LOG_RECORDS frames on stdout."""

    def request(self, key: str, frame: Frame, deliver):  # type: ignore[no-untyped-def]
        if frame.type == "HELLO":
            say("hello sent")

            def deliver_hello(reply: TechReply) -> None:
                if reply.frame is not None and reply.frame.type == "HELLO_ACK":
                    say("hello")
                deliver(reply)

            super().request(key, frame, deliver_hello)
            return
        if frame.type == "LOG_RECORDS":
            recs = frame.payload["records"]
            say(f"batch sent {recs[0]['seq']}-{recs[-1]['seq']} {len(recs)}")
        super().request(key, frame, deliver)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", type=Path)
    ap.add_argument("--server", help="HOST:PORT of TechServerTcp")
    ap.add_argument("--make", type=int, default=0)
    ap.add_argument("--batch-bytes", type=int, default=0)
    ap.add_argument("--append-forever", action="store_true")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--serial", default=SERIAL)
    args = ap.parse_args(argv)

    if args.batch_bytes:
        # This process only: LOG_RECORDS payloads of at most B bytes instead of wire.MAX_PAYLOAD.
        techexchange.record_batches = functools.partial(  # type: ignore[assignment]
            techexchange.record_batches, max_payload=args.batch_bytes)

    clock = VirtualClock(time.time_ns() // 1_000_000)
    driver = RealTimeDriver(clock)
    link = None
    if args.server:
        host, port = args.server.rsplit(":", 1)
        link = ReportingLink(driver.post, (host, int(port)))
    device = KktDevice(clock, SimulatedNetwork(clock, TrueApiBackend()), args.directory, tech_link=link,
                       oism=SimOismLink(OismModel()),
                       serial=args.serial, inn=INN)
    book = device.logbook
    say(f"ready next_seq={book.next_seq} pending={len(book.pending_upload())}")

    for i in range(args.make):
        book.append(**record_fields(i, clock.now_ms + i))
    if args.make:
        say(f"made {args.make}")

    if args.append_forever:
        i = 0
        while True:
            book.append(**record_fields(i, clock.now_ms + i))
            i += 1
            if i == 20:
                say("appending")

    if link is None or device.tech is None:
        device.power_off()
        return 0

    uploaded = 0
    mark = book.mark_uploaded

    def mark_and_report(seqs: list[int]) -> None:
        nonlocal uploaded
        mark(seqs)  # committed before the line goes out
        uploaded += len(seqs)
        say(f"acked {len(seqs)} total={uploaded}")

    book.mark_uploaded = mark_and_report  # type: ignore[method-assign]
    failures: list[str] = []

    def on_event(ev) -> None:  # type: ignore[no-untyped-def]
        if isinstance(ev, TechNote) and ev.text.startswith("exchange failed"):
            failures.append(ev.text)
            say(f"failed {ev.text}")

    device.on_event = on_event
    device.tech.start("test")
    finished = driver.run_while(lambda: device.tech is not None and device.tech.busy, int(args.timeout * 1000))
    if not finished:
        say("failed timeout")
        failures.append("timeout")
    pending = len(book.pending_upload())
    say(f"done pending={pending} uploaded={uploaded}")
    device.power_off()
    link.shutdown()
    return 0 if not failures and pending == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
