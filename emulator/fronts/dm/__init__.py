"""The Vchasno Device Manager (DM): the REST API Ukrainian POS software drives, over the emulated ПРРО,
bank terminal and receipt printer (seed 003; reference ``prro-and-terminals.md`` §2–§7).

Theory of operation — one request::

    POST /dm/execute{,-prn,-pkg}    app.py: starlette on loopback (port 3939); body ≤ 1 MiB; ALWAYS 200
        │ bytes
        ▼
    envelope.parse_request()       JSON → ``Request`` (lenient as real clients: numbers as strings, …);
        │ Request                  not JSON / wrong shape → DmError 2000 (res_action 3)
        ▼
    DeviceManager.execute()        manager.py: the device by name (1091), one task per device at a time
        │                          (1105), re-query and de-duplication by ``tag`` (1058), the collision
        │                          repaired before a new fiscal task, the handler chosen by kind and task
        ▼
    handlers                       registered per (device kind, task) by the modules below:
        prro_tasks.py              ПРРО tasks 0–4, 10, 11, 14, 18, 20–22 over ``devices.prro.PrroDevice``
        receipt.py                 the receipt object: parsing, the §3.3 validations, allowed characters
        reports.py                 tasks 5, 12, 13; the print form of every document; ``/dm/execute-prn``
        terminal.py                terminal tasks and service methods over ``net.bankterm.BankTermLink``
        package.py                 ``/dm/execute-pkg``: terminal → fiscalization → print → drawer
        admin.py                   ПРРО creation, key loading, settings, ``sys_info``
        │ Answer
        ▼
    envelope.answer_json()         ``res``, ``res_action``, ``errortxt``, ``warnings``, ``info``, print forms

State: ``store.DmStore`` (one SQLite file, WAL, synchronous FULL) holds the DM's own database — the
answers by ``(device, tag)``, the DM's copy of every fiscalized document (what the reports read), the
package-mode settings; the terminal journal is the link's (``net.bankterm.Journal``, 90 days). The ПРРО
keeps its own state (``devices.prro.store``). Everything a request changes is committed before its
answer leaves, so a DM killed at any instant answers the repeated request (same ``tag``) with the stored
result or repairs the collision; nothing is fiscalized twice.

Time is the world's clock (``VirtualClock``): scenarios move it; ``kkt-emu dm serve`` keeps it on the
wall clock. The DM's errors and texts are data (``data/dm_errors.yaml``, ``data/terminal_errors.yaml``),
read by ``errors``.
"""
