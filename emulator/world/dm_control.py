"""The fault switchboard of a ``DmWorld``: one text line, one change on a peer — the grammar shared by
``kkt-emu dm serve`` (its stdin console and its control API) and the ``fault`` step of ``kind: dm``
scenarios.

::

    term [NAME] ACTION...        the bank terminal's console line (``kkt-emu terminal serve``): holder
                                 ACTION..., plan ITEM..., down|host|paper|stall on|off, latency MS, status;
                                 a bare holder action is the holder's next one: ``term decline``,
                                 ``term no_card``
    printer [NAME] ...           the printer's console line (``kkt-emu printer serve``): paper-out on|off,
                                 cover-open on|off, offline on|off, slow MS, status; and the short forms
                                 ``printer paper out``, ``printer cover open``, ``printer offline``,
                                 ``printer ok`` (every switch off)
    tax down|up                  the tax server refuses / takes connections (the ПРРО's transport fails)
    tax latency MS               the tax server's answer time
    tax plan ITEM...             its fault plan, one item per request (an HTTP status or a word)
    tax ok                       plan, latency and down cleared
    net down|up                  the internet gone / back: the tax server and every terminal's bank host
                                 unreachable; the loopback peers themselves stay (MODELLED)
    status                       one line per peer

``control(world, line)`` returns the answer line; a refused line is one ``error: ...`` line and changes
nothing. Terminal and printer names default to the first one the world has.
"""

from __future__ import annotations

import json

from emulator.fronts.printer import PrinterConsole
from emulator.servers.bankterm.card import ACTIONS
from emulator.servers.bankterm.serve import command as terminal_command
from emulator.world.dm import DmWorld

HELP = "commands: term ..., printer ..., tax down|up|ok|latency MS|plan ITEM..., net down|up, status"
MAX_LINE = 400
_PRINTER_SHORT = {("paper", "out"): "paper-out on", ("paper", "in"): "paper-out off",
                  ("cover", "open"): "cover-open on", ("cover", "closed"): "cover-open off",
                  ("offline",): "offline on", ("online",): "offline off"}


class ControlError(ValueError):
    pass


def _peer(names: list[str], words: list[str], what: str) -> tuple[str, list[str]]:
    if not names:
        raise ControlError(f"this world has no {what}")
    if words and words[0] in names:
        return words[0], words[1:]
    return names[0], words


def _term(world: DmWorld, words: list[str]) -> str:
    name, rest = _peer(list(world.terminals), words, "terminal")
    if not rest:
        raise ControlError("term ACTION (e.g. term decline, term host on, term status)")
    if rest[0] in ACTIONS:
        rest = ["holder", *rest]
    model = world.terminals[name][0]
    got = terminal_command(model, " ".join(rest))
    if got.startswith("error: unknown command"):
        raise ControlError(f"term: unknown command {rest[0][:40]!r} (holder, plan, down, host, paper, stall, "
                           f"latency, status, or a holder action: {' '.join(ACTIONS)})")
    if got.startswith("error:"):
        raise ControlError(f"term: {got[len('error: '):]}")
    return f"{name}: {got}"


def _printer(world: DmWorld, words: list[str]) -> str:
    name, rest = _peer(list(world.printers), words, "printer")
    model = world.printers[name][0]
    if tuple(rest) == ("ok",):
        for switch in ("paper_out", "paper_low", "cover_open", "offline"):
            model.set_fault(switch, False)
        model.set_fault("slow", 0)
        return f"{name}: every fault off"
    line = _PRINTER_SHORT.get(tuple(rest), " ".join(rest))
    if not line or line.split()[0] in ("quit", "close-drawer"):
        raise ControlError("printer paper out|in, cover open|closed, offline|online, slow MS, ok, status")
    got = PrinterConsole(model).command(line)
    if got is None or got.startswith("?"):
        raise ControlError("printer: " + ("paper out|in, cover open|closed, offline|online, ok, or "
                                          "paper-out|paper-low|cover-open|offline on|off, slow MS, status"))
    return f"{name}: {got}"


def _tax(world: DmWorld, words: list[str]) -> str:
    plan = world.prro.tax.faults
    if words in (["down"], ["up"]):
        plan.down = words == ["down"]
        return f"tax server: {'down' if plan.down else 'up'}"
    if words == ["ok"]:
        plan.down, plan.latency_ms, plan.latency_seq = False, 0, []
        plan.plan([])
        return "tax server: no faults"
    if len(words) == 2 and words[0] == "latency" and words[1].isdigit() and len(words[1]) <= 7:
        plan.latency_ms = int(words[1])
        return f"tax server: latency {plan.latency_ms} ms"
    if words[:1] == ["plan"]:
        items: list[str | int] = [int(w) if w.isdigit() and len(w) == 3 else w for w in words[1:]]
        try:
            plan.plan(items)
        except ValueError as exc:
            raise ControlError(f"tax: {exc}") from None
        return f"tax server: plan {' '.join(words[1:]) or 'empty'}"
    raise ControlError("tax down|up|ok, tax latency MS, tax plan ITEM...")


def _net(world: DmWorld, words: list[str]) -> str:
    if words not in (["down"], ["up"]):
        raise ControlError("net down|up")
    down = words == ["down"]
    world.prro.tax.faults.down = down
    for model, _ in world.terminals.values():
        model.host_down = down
    return "network: " + ("down (tax server and bank hosts unreachable)" if down else "up")


def status(world: DmWorld) -> str:
    lines = []
    plan = world.prro.tax.faults
    lines.append(f"tax server: {'down' if plan.down else 'up'}, latency {plan.latency_ms} ms, "
                 f"{len(plan.items)} plan items, {len(world.prro.tax.documents)} documents")
    for name, (term, _) in world.terminals.items():
        lines.append(f"terminal {name}: " + terminal_command(term, "status"))
    for name, (prn, _) in world.printers.items():
        lines.append(f"printer {name}: " + json.dumps(prn.state(), ensure_ascii=False))
    return "\n".join(lines)


def control(world: DmWorld, line: str) -> str:
    """The answer to one control line (``error: ...`` when it is refused; nothing changed then)."""
    if len(line) > MAX_LINE:
        return f"error: a line of at most {MAX_LINE} characters"
    words = line.split()
    if not words:
        return ""
    cmd, rest = words[0].lower(), words[1:]
    try:
        if cmd == "term":
            return _term(world, rest)
        if cmd == "printer":
            return _printer(world, rest)
        if cmd == "tax":
            return _tax(world, rest)
        if cmd == "net":
            return _net(world, rest)
        if cmd == "status" and not rest:
            return status(world)
    except ValueError as exc:
        return f"error: {exc}"
    return f"error: unknown command {cmd[:40]!r} ({HELP})"
