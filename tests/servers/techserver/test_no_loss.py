"""Nothing lost, nothing twice: the device's log survives killed processes and server restarts.

Real processes and real sockets: the device runs as a separate process
(``device_proc.py``, a ``KktDevice`` with a ``TcpTechLink`` on a
``RealTimeDriver``) and is SIGKILLed at chosen moments; the technological
server (``TechServerTcp`` over a ``TechServer`` SQLite file) runs in this
process, where a wrapper around ``store_records`` slows it down, records what
each batch did and says when a batch is stored. Afterwards the server's report
(``records(serial)``) must hold every record the device wrote exactly once, in
seq order, byte for byte, and the device must have nothing left to send.
"""

from __future__ import annotations

import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from emulator.devices.kkt.logbook import Logbook
from emulator.servers.techserver.model import TechServer
from emulator.servers.techserver.tcp import TechServerTcp
from tests.servers.techserver.waits import wait_idle

HERE = Path(__file__).resolve().parent
DEVICE_PROC = HERE / "device_proc.py"
SERVER_PROC = HERE / "server_proc.py"
SERIAL = "00106700000077"
BATCH_BYTES = 8000          # about 22 records a LOG_RECORDS frame
WAIT = 40.0                 # the bound of every wait on a child (generous: a loaded 2-core machine)


class Child:
    """One device process; its stdout lines arrive on a queue read by a thread."""

    def __init__(self, tmp_path: Path, name: str, args: list[str], script: Path = DEVICE_PROC) -> None:
        self.name = name
        self.err_path = tmp_path / f"{name}.stderr"
        self._err = self.err_path.open("w")
        self.proc = subprocess.Popen([sys.executable, str(script), *args], cwd=tmp_path,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True, encoding="utf-8")
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def _why(self, what: str) -> str:
        return (f"{self.name}: {what}; lines: {self.lines[-8:]}; "
                f"stderr: {self.err_path.read_text(errors='replace')[-1500:]}")

    def wait_line(self, prefix: str, timeout: float = WAIT) -> str:
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(self._why(f"no line {prefix!r} within {timeout} s"))
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self._q.put(None)
                raise AssertionError(self._why(f"exited before a line {prefix!r}"))
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)

    def finish(self, timeout: float = WAIT) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(self._why(f"still running after {timeout} s")) from exc
        self._reader.join(5)
        while True:
            line = self._q.get_nowait() if not self._q.empty() else None
            if line is None:
                break
            self.lines.append(line)
        return rc

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()


class StoreHook:
    """Wraps ``model.store_records``: a delay per batch, a record of every call, a stop after call N."""

    def __init__(self, model: TechServer, delay_s: float = 0.0) -> None:
        self.model = model
        self.original = model.store_records
        self.delay_s = delay_s
        self.calls: list[tuple[list[int], list[int], int]] = []   # (seqs sent, seqs acked, duplicates)
        self.conflicts = 0
        self.hold_after: int | None = None   # after this call has stored, set `stored` and wait for `release`
        self.stored = threading.Event()
        self.release = threading.Event()
        model.store_records = self  # type: ignore[method-assign]

    def __call__(self, serial, records, now_ms):  # type: ignore[no-untyped-def]
        if self.delay_s:
            time.sleep(self.delay_s)
        records = list(records)
        result = self.original(serial, records, now_ms)
        self.calls.append(([int(r["seq"]) for r in records], result.stored, result.duplicates))
        self.conflicts += result.conflicts
        if self.hold_after == len(self.calls):
            self.stored.set()
            self.release.wait(WAIT)   # the LOG_ACK waits here until the device is dead
        return result

    @property
    def duplicates(self) -> int:
        return sum(c[2] for c in self.calls)


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.device_dir = tmp_path / "dev"
        self.db_path = tmp_path / "tech.sqlite"
        self.children: list[Child] = []
        self.servers: list[tuple[TechServerTcp, TechServer]] = []

    def server(self, delay_s: float = 0.0) -> tuple[TechServerTcp, TechServer, StoreHook]:
        model = TechServer(self.db_path)
        hook = StoreHook(model, delay_s)
        srv = TechServerTcp(model).start()
        self.servers.append((srv, model))
        return srv, model, hook

    def stop_server(self, srv: TechServerTcp, model: TechServer) -> None:
        srv.stop()
        model.close()
        self.servers.remove((srv, model))

    def device(self, *extra: str, server: TechServerTcp | int | None = None, directory: Path | None = None) -> Child:
        args = [str(directory or self.device_dir), *extra]
        if server is not None:
            args += ["--server", f"127.0.0.1:{server if isinstance(server, int) else server.port}"]
        child = Child(self.tmp, f"device{len(self.children) + 1}", args)
        self.children.append(child)
        return child

    def server_process(self, delay_s: float = 0.0) -> tuple[Child, int]:
        """The technological server in its own process on ``db_path``: (child, port)."""
        child = Child(self.tmp, f"server{len(self.children) + 1}", [str(self.db_path), "--delay", str(delay_s)],
                      SERVER_PROC)
        self.children.append(child)
        return child, int(child.wait_line("port ").split()[1])

    def device_log(self, directory: Path | None = None) -> tuple[list[str], list[int], list[int]]:
        """(texts in seq order, seqs, pending seqs) from the device's SQLite, read while no child runs."""
        book = Logbook(directory or self.device_dir)
        try:
            return ([r.text for r in book.records], [r.seq for r in book.records],
                    [r.seq for r in book.pending_upload()])
        finally:
            book.close()

    def close(self) -> None:
        for c in self.children:
            c.close()
        for srv, model in list(self.servers):
            srv.stop()
            model.close()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.close()




def report(model: TechServer, serial: str = SERIAL) -> tuple[list[int], list[str]]:
    recs = model.records(serial)
    return [r.seq for r in recs], [r.text for r in recs]


def assert_all_once(world: World, model: TechServer, n: int) -> None:
    assert model.conflicts(SERIAL) == []
    texts, seqs, pending = world.device_log()
    assert seqs == list(range(1, n + 1))
    assert pending == []
    server_seqs, server_texts = report(model)
    assert server_seqs == seqs                 # every record, once, in seq order
    assert server_texts == texts               # byte for byte what the device wrote
    count = model.db.execute("SELECT count(*), count(DISTINCT seq) FROM log_records WHERE serial=?",
                             (SERIAL,)).fetchone()
    assert count == (n, n)


def test_device_killed_mid_upload_resends_the_rest(world):
    srv, model, hook = world.server(delay_s=0.15)
    first = world.device("--make", "600", "--batch-bytes", str(BATCH_BYTES), server=srv)
    first.wait_line("made")
    first.wait_line("acked")
    first.kill()                              # in the middle: ~27 batches still to go
    assert first.proc.returncode == -signal.SIGKILL
    wait_idle(srv, WAIT)

    texts, seqs, pending = world.device_log()
    assert len(seqs) == 600 and 0 < len(pending) < 600
    marked = set(seqs) - set(pending)
    server_seqs, _ = report(model)
    assert marked <= set(server_seqs)         # nothing marked uploaded that the server lacks

    hook.delay_s = 0.0
    calls_before = len(hook.calls)
    second = world.device("--batch-bytes", str(BATCH_BYTES), server=srv)
    assert second.wait_line("ready") == f"ready next_seq=601 pending={len(pending)}"
    second.wait_line("done")
    assert second.finish() == 0
    assert_all_once(world, model, 600)
    # At most the batch in flight at the kill was stored twice; the server kept its first copy.
    assert hook.duplicates <= max(len(c[0]) for c in hook.calls)
    assert sum(len(c[0]) for c in hook.calls[calls_before:]) == len(pending)


def test_log_ack_lost_batch_resent_and_stored_once(world):
    srv, model, hook = world.server()
    hook.hold_after = 2                       # the second batch is stored, its LOG_ACK held back
    first = world.device("--make", "200", "--batch-bytes", str(BATCH_BYTES), server=srv)
    assert hook.stored.wait(WAIT), first._why("the second batch never reached the server")
    first.kill()                              # dies between the server's commit and the device's mark
    hook.release.set()
    wait_idle(srv, WAIT)
    sent2, acked2, dups2 = hook.calls[1]
    assert acked2 == sent2 and dups2 == 0

    texts, seqs, pending = world.device_log()
    assert set(sent2) <= set(pending)         # the device never saw the LOG_ACK: still pending
    assert set(hook.calls[0][0]).isdisjoint(pending)
    assert set(sent2) <= set(report(model)[0])

    hook.hold_after = None
    second = world.device("--batch-bytes", str(BATCH_BYTES), server=srv)
    second.wait_line("done")
    assert second.finish() == 0
    resent = hook.calls[2]
    assert resent[0][:len(sent2)] == sent2    # the lost batch goes out first again …
    assert resent[2] == len(sent2)            # … and the server counts it as duplicates
    assert sum(c[2] for c in hook.calls[2:]) == len(sent2)
    assert_all_once(world, model, 200)


def test_server_restarts_lose_nothing(world):
    # A: stopped in the middle of a session.
    srv, model, hook = world.server(delay_s=0.1)
    first = world.device("--make", "400", "--batch-bytes", str(BATCH_BYTES), server=srv)
    first.wait_line("acked")
    world.stop_server(srv, model)
    first.wait_line("failed")
    assert first.finish() == 2

    # B: a new server on the same SQLite file, on a new port; stopped mid-session again.
    srv, model, hook = world.server(delay_s=0.1)
    _, seqs, pending = world.device_log()
    assert 0 < len(pending) < 400
    assert set(seqs) - set(pending) <= set(report(model)[0])
    second = world.device("--batch-bytes", str(BATCH_BYTES), server=srv)
    second.wait_line("acked")
    world.stop_server(srv, model)
    second.wait_line("failed")
    assert second.finish() == 2

    # C: finishes the upload.
    srv, model, hook = world.server()
    third = world.device("--batch-bytes", str(BATCH_BYTES), server=srv)
    third.wait_line("done")
    assert third.finish() == 0
    assert_all_once(world, model, 400)

    # D: restarted between sessions; the next session sends only the new records.
    world.stop_server(srv, model)
    srv, model, hook = world.server()
    fourth = world.device("--make", "30", server=srv)
    fourth.wait_line("done")
    assert fourth.finish() == 0
    assert [c[0] for c in hook.calls] == [list(range(401, 431))] and hook.duplicates == 0
    assert_all_once(world, model, 430)


def test_device_killed_while_appending_keeps_a_consistent_log(world):
    rng = random.Random(20240403)
    hot_journals = 0
    last = 0
    for round_ in range(4):
        child = world.device("--append-forever")
        child.wait_line("appending")
        time.sleep(rng.uniform(0.05, 0.3))
        child.kill()
        if (world.device_dir / "gismt_log.sqlite-journal").exists():
            hot_journals += 1                 # killed inside a transaction
        db = sqlite3.connect(world.device_dir / "gismt_log.sqlite")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            db.close()
        _, seqs, _ = world.device_log()
        book = Logbook(world.device_dir)
        next_seq = book.next_seq
        book.close()
        assert seqs == list(range(1, len(seqs) + 1)), f"round {round_}: a hole or a repeat"
        assert next_seq == len(seqs) + 1      # the counter moved with the records, no more, no less
        assert len(seqs) > last + 20
        last = len(seqs)
    print(f"{last} records over 4 kills, {hot_journals} kill(s) inside a transaction")

    srv, model, hook = world.server()
    child = world.device("--make", "5", server=srv)
    assert child.wait_line("ready") == f"ready next_seq={last + 1} pending={last}"
    child.wait_line("done")
    assert child.finish() == 0
    assert_all_once(world, model, last + 5)
    assert hook.duplicates == 0


# ------------------------------------------------------------------ resets, impostors, killed servers
def test_the_devices_log_reset_while_the_server_keeps_its_history(world):
    srv, model, hook = world.server()
    first = world.device("--make", "50", server=srv)
    first.wait_line("done")
    assert first.finish() == 0
    before = report(model)
    (world.device_dir / "gismt_log.sqlite").unlink()       # the log is gone; the device key stays

    second = world.device("--make", "10", server=srv)      # numbers 1..10 again, other texts
    assert second.wait_line("ready") == "ready next_seq=1 pending=0"
    second.wait_line("done")
    assert second.finish() == 0
    reset_texts, reset_seqs, pending = world.device_log()
    assert reset_seqs == list(range(1, 11)) and pending == []
    assert report(model) == before                          # the history is untouched …
    # … and nothing dropped: a record whose text differs from the one held is kept as a conflict
    # (the records with no answer have no time in them: those are the same text, held already).
    held = dict(zip(*before))
    differing = [(s, t) for s, t in zip(reset_seqs, reset_texts) if held[s] != t]
    assert len(differing) >= 6
    assert [(c.seq, c.text) for c in model.conflicts(SERIAL)] == differing
    assert hook.conflicts == len(differing)

    third = world.device("--make", "5", server=srv)         # the counter moved past the server's numbers
    assert third.wait_line("ready") == "ready next_seq=51 pending=0"
    third.wait_line("done")
    assert third.finish() == 0
    texts, seqs, _ = world.device_log()
    server_seqs, server_texts = report(model)
    assert server_seqs == list(range(1, 56)) and server_texts[50:] == texts[10:]
    assert len(model.conflicts(SERIAL)) == len(differing)


def test_a_lost_log_counter_does_not_reuse_numbers(world):
    srv, model, hook = world.server()
    first = world.device("--make", "20", server=srv)
    first.wait_line("done")
    assert first.finish() == 0
    db = sqlite3.connect(world.device_dir / "gismt_log.sqlite")
    with db:
        db.execute("DELETE FROM meta WHERE key='next_seq'")   # the counter row gone
    db.close()
    second = world.device("--make", "5", server=srv)
    assert second.wait_line("ready") == "ready next_seq=21 pending=0"
    second.wait_line("done")
    assert second.finish() == 0
    assert_all_once(world, model, 25)
    assert hook.duplicates == 0 and hook.conflicts == 0


def test_a_second_device_claiming_the_serial_is_refused(world):
    srv, model, hook = world.server()
    real = world.device("--make", "5", server=srv)
    real.wait_line("done")
    assert real.finish() == 0
    model.set_setting(SERIAL, "sale_ban", "ВКЛЮЧЕН")
    task = model.send_all_settings(SERIAL)

    impostor = world.device("--make", "8", server=srv, directory=world.tmp / "impostor")
    line = impostor.wait_line("failed")
    assert "server error 6" in line
    assert impostor.finish() == 2
    _, _, pending = world.device_log(world.tmp / "impostor")
    assert pending == list(range(1, 9))                     # it was acknowledged nothing
    assert report(model)[0] == [1, 2, 3, 4, 5] and model.conflicts(SERIAL) == []
    assert model.task(task).state == "queued" and model.device(SERIAL).identity_refusals == 1

    again = world.device("--make", "2", server=srv)
    again.wait_line("done")
    assert again.finish() == 0
    assert_all_once(world, model, 7)
    assert model.task(task).state == "sent"                 # handed to the real device only


KILL_ROUNDS = 3


def test_the_server_process_killed_loses_nothing(world):
    rng = random.Random(20240404)
    device = world.device("--make", "500", "--batch-bytes", str(BATCH_BYTES))
    device.wait_line("made")
    assert device.finish() == 0
    for round_ in range(KILL_ROUNDS):
        server, port = world.server_process(delay_s=0.05)
        child = world.device("--batch-bytes", str(BATCH_BYTES), server=port)
        child.wait_line("acked")
        time.sleep(rng.uniform(0.0, 0.2))
        server.kill()                                       # SIGKILL: no shutdown of any kind
        assert server.proc.returncode == -signal.SIGKILL
        child.wait_line("failed")
        assert child.finish() == 2
        db = sqlite3.connect(world.db_path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",), f"round {round_}"
        finally:
            db.close()
        _, seqs, pending = world.device_log()
        model = TechServer(world.db_path)
        try:
            assert set(seqs) - set(pending) <= set(report(model)[0]), f"round {round_}: marked but not held"
        finally:
            model.close()
    srv, model, hook = world.server()
    last = world.device("--batch-bytes", str(BATCH_BYTES), server=srv)
    last.wait_line("done")
    assert last.finish() == 0
    assert_all_once(world, model, 500)


def test_serve_killed_loses_nothing(tmp_path):
    """`kkt-emu serve` (device, servers, pages in one process) SIGKILLed in the middle of uploads."""
    state = tmp_path / "state"
    book = Logbook(state / "device")
    sys.path.insert(0, str(HERE))
    from device_proc import record_fields  # the same three kinds of records the device process makes
    now = int(time.time() * 1000)
    for i in range(3000):
        book.append(**record_fields(i, now + i))
    texts = [r.text for r in book.records]
    book.close()
    cmd = [sys.executable, "-m", "emulator.cli", "serve", "--state-dir", str(state),
           "--token", "7f0c0d6e-3b1a-4c53-9a8e-5d2f0e9b1c42"]
    rng = random.Random(20240405)
    uploaded_before = -1
    for round_ in range(KILL_ROUNDS + 1):
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, encoding="utf-8", cwd=tmp_path)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            child = Child.__new__(Child)      # reuse the line reader on this process
            child.name, child.err_path, child.proc, child.lines = "serve", tmp_path / "none", proc, []
            child.err_path.write_text("")
            child._q = queue.Queue()
            child._reader = threading.Thread(target=child._read, daemon=True)
            child._reader.start()
            child.wait_line("type 'help'", timeout=60)
            proc.stdin.write("exchange\n")
            proc.stdin.flush()
            if round_ < KILL_ROUNDS:
                child.wait_line("  [tech] uploaded", timeout=30)
                time.sleep(rng.uniform(0.0, 0.05))
                proc.send_signal(signal.SIGKILL)
                proc.wait(WAIT)
                assert proc.returncode == -signal.SIGKILL
            else:
                child.wait_line("  [tech] session ended", timeout=60)
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait(WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(WAIT)
            if proc.stdout is not None:
                proc.stdout.close()
            if proc.stdin is not None:
                proc.stdin.close()
        db = state / "techserver.sqlite"
        assert oct(db.stat().st_mode & 0o777) == oct(0o600) and oct(state.stat().st_mode & 0o777) == oct(0o700)
        model = TechServer(db)
        book = Logbook(state / "device")
        try:
            held = report(model, "00000000000001")     # serve's device
            pending = {r.seq for r in book.pending_upload()}
            marked = {r.seq for r in book.records} - pending
            assert marked <= set(held[0]), f"round {round_}: marked uploaded but not on the server"
            assert len(held[0]) == len(set(held[0]))
            assert held[1] == [texts[s - 1] for s in held[0]]
            assert len(held[0]) >= uploaded_before
            uploaded_before = len(held[0])
        finally:
            model.close()
            book.close()
    assert held[0] == list(range(1, 3001)) and not pending
