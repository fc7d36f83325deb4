"""Explain the KKT's permit-mode log records in plain Russian.

Input: one or more records as the KKT writes them (see ``emulator.kkt.logbook``)
or as pasted from the vendor's instruction or a web page: tabs may have become
spaces, and lines may be broken inside values (``UUID=4ac3d96d- df56-…``);
such breaks are rejoined. A value that stays malformed (a UUID with a lost
digit) is reported in ``problems`` and the rest of the record is still
explained.

Output per record: the code, the error text from the device's table, the
parsed fields, a one-sentence ``summary`` of what happened (for 758 in the
vendor's own words: «Товар добавляли в чековый буфер с ценой (248р) выше МРЦ
(140р).») and ``details``: the check's flags, the expiry date, tag 2106, how
long the check took, the answer's reqId and its time in Moscow time.

The time is linear in the input (no expression backtracks over a run of
blanks; ``tests/rules/test_explain_time.py``), and at most ``MAX_RECORD_CHARS``
after each header are explained, so a record uploaded by anyone costs the
reports page a bounded amount of work.

Which True API field each log field comes from is the emulator's reading of
the vendor's two examples (МРЦ = «Макс», ЕМЦ = «Мин»), so some sentences are
MODELLED interpretations, not vendor statements.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from emulator.base.errors import error_table
from emulator.base.moscow import MSK

FLAG_NAMES = ("Найден", "Нанесен", "Крипто", "Продан", "Заблокирован", "В обороте", "Серая зона")
NO_EXPIRY_TEXT = "07-02-2106"  # 0xFFFFFFFF seconds shown as a date: "no expiry date"

# A record header is «<source><TAB><code><TAB>[<seq>]». It is found by its code and seq first
# (``_CODE_SEQ_RE``, which cannot backtrack over a run of blanks: possessive quantifiers) and the
# source is then read backwards from there (``_source_start``): every character is looked at a
# bounded number of times, so the time is linear in the input (one regular expression for the whole
# header took time growing with the cube of a run of blanks).
_NOT_SOURCE = frozenset("\t\n[]:=,&")   # and digits: a source is «ГИС МТ», never a number
_CODE_SEQ_RE = re.compile(r"(?<=[ \t])(?P<code>\d{3})[ \t]++\[(?P<seq>\d++)\]")
_FLAG_RE = re.compile(r"(Найден|Нанесен|Крипто|Продан|Заблокирован|В\s+обороте|Серая\s+зона)\s*:\s*(Да|Нет|-)")
_NUM = r"(\d+(?:[ \t\n]+\d+)*)"
_PRICE_RE = {name: re.compile(name + r"\s*:\s*" + _NUM) for name in ("Цена", "Макс", "Мин")}
_EXPIRY_RE = re.compile(r"ГоденДо\s*:\s*(\d{2})\s*-\s*(\d{2})\s*-\s*(\d{4})\s+(\d{2})\s*:\s*(\d{2})\s*:\s*(\d{2})")
_TAG2106_RE = re.compile(r"(?<![\d-])2106\s*:\s*(\d+)")
_ELAPSED_RE = re.compile(r"ВремяОбработки\s*:\s*" + _NUM + r"\s*мс")
_UUID_RE = re.compile(r"UUID\s*+=([0-9A-Za-z\-\s]*+)&\s*+Time\s*+=[ \t]*+(\d*+)")
_MORE_DIGITS = re.compile(r"\s++(\d++)")
MS_DIGITS = 13  # a Unix time in ms has 13 digits until the year 2286
_CANON_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UUID_GROUPS = (8, 4, 4, 4, 12)
# A record the device writes is about 300 characters; what follows a header beyond this is not
# explained (the explanation says so), which bounds the work per record whatever was uploaded.
MAX_RECORD_CHARS = 4096


@dataclass
class Explanation:
    code: int | None
    error_text: str | None          # the device's text for the code, None when the code is not in the table
    source: str
    seq: int | None
    fields: dict[str, Any]
    summary: str                    # what happened, one sentence
    details: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    record: str = ""                # the record as read, line breaks inside values rejoined

    @property
    def title(self) -> str:
        head = f"{self.code} {self.error_text}" if self.error_text else f"{self.code} (код не описан в инструкции)"
        return f"{head} — {self.source}, запись [{self.seq}]"

    def text(self) -> str:
        lines = [self.title, self.summary, *self.details]
        lines += [f"Внимание: {p}" for p in self.problems]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def rub(kopecks: int) -> str:
    """Kopecks the way the vendor writes roubles: 24800 -> ``248р``, 24850 -> ``248,50р``."""
    r, k = divmod(int(kopecks), 100)
    return f"{r}р" if k == 0 else f"{r},{k:02d}р"


def msk_time(ms: int) -> str:
    t = datetime.fromtimestamp(ms / 1000, tz=MSK)
    return t.strftime("%d.%m.%Y %H:%M:%S") + f".{ms % 1000:03d} МСК"


def _digits(text: str) -> int:
    return int(re.sub(r"\s+", "", text))


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")


def _source_start(text: str, end: int, lo: int) -> int:
    """Where the source before a header's code starts: back from ``end`` over blanks, then over source
    characters, never before ``lo``; ``-1`` when there is no source character (not a header)."""
    i = end
    while i > lo and text[i - 1] in " \t":
        i -= 1
    stop = i
    while i > lo and text[i - 1] not in _NOT_SOURCE and not text[i - 1].isdecimal():
        i -= 1
    return i if i < stop else -1


def split_records(text: str) -> list[tuple[str, int, int, str]]:
    """(source, code, seq, body) for every record header found in ``text``; time linear in its length."""
    text = _normalise(text)
    heads: list[tuple[int, int, re.Match[str]]] = []   # (header start, source end, code/seq match)
    lo = 0
    for m in _CODE_SEQ_RE.finditer(text):
        if m.start() < lo:
            continue
        start = _source_start(text, m.start(), lo)
        if start < 0:
            continue
        stop = m.start()
        while text[stop - 1] in " \t":
            stop -= 1
        heads.append((start, stop, m))
        lo = m.end()
    out = []
    for i, (start, stop, m) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        source = re.sub(r"\s+", " ", text[start:stop]).strip()
        out.append((source, int(m.group("code")), int(m.group("seq")), text[m.end():end]))
    return out


def _uuid_time(body: str) -> tuple[re.Match[str] | None, str, int]:
    """The UUID=…&Time=… match, the Time digits (a line break inside them rejoined) and where they end."""
    m = _UUID_RE.search(body)
    if not m:
        return None, "", -1
    digits, end = m.group(2), m.end()
    while 0 < len(digits) < MS_DIGITS:
        more = _MORE_DIGITS.match(body, end)
        if not more or len(digits) + len(more.group(1)) > MS_DIGITS:
            break
        digits, end = digits + more.group(1), more.end()
    return m, digits, end


def cut_body(body: str) -> str:
    """The record itself: up to its ``Time=`` value, else up to the first blank line after some text."""
    m, _, end = _uuid_time(body)
    if m:
        return body[:end]
    para = re.search(r"\S[\s\S]*?(?=\n[ \t]*\n|\Z)", body)
    return body[:para.end()] if para else body


def parse_body(body: str) -> tuple[dict[str, Any], list[str]]:
    """The fields of one record body; second item: what is malformed."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    flags: dict[str, bool | None] = {}
    for name, value in _FLAG_RE.findall(body):
        name = re.sub(r"\s+", " ", name)
        flags[name] = None if value == "-" else value == "Да"
    fields["flags"] = {n: flags.get(n) for n in FLAG_NAMES if n in flags}
    missing = [n for n in FLAG_NAMES if n not in flags]
    if missing and len(missing) < len(FLAG_NAMES):
        problems.append("нет признаков: " + ", ".join(missing))
    for name, rx in _PRICE_RE.items():
        m = rx.search(body)
        fields[name] = _digits(m.group(1)) if m else None
    m = _EXPIRY_RE.search(body)
    if m:
        d, mo, y, hh, mi, ss = m.groups()
        fields["ГоденДо"] = f"{d}-{mo}-{y} {hh}:{mi}:{ss}"
        fields["no_expiry"] = f"{d}-{mo}-{y}" == NO_EXPIRY_TEXT
    else:
        fields["ГоденДо"], fields["no_expiry"] = None, None
    m = _TAG2106_RE.search(body)
    fields["2106"] = int(m.group(1)) if m else None
    m = _ELAPSED_RE.search(body)
    fields["ВремяОбработки"] = _digits(m.group(1)) if m else None
    m, time_digits, _ = _uuid_time(body)
    if m:
        uuid = re.sub(r"\s+", "", m.group(1))  # blanks around the value and line breaks inside it
        fields["UUID"] = uuid
        fields["uuid_ok"] = bool(_CANON_UUID.match(uuid)) if uuid else None
        if uuid and not fields["uuid_ok"]:
            problems.append(_uuid_problem(uuid))
        fields["Time"] = int(time_digits) if time_digits else None
        if time_digits and len(time_digits) != MS_DIGITS:
            problems.append(f"Time={time_digits}: ожидалось {MS_DIGITS} цифр (миллисекунды Unix)")
    else:
        fields["UUID"], fields["uuid_ok"], fields["Time"] = None, None, None
    return fields, problems


def _uuid_problem(uuid: str) -> str:
    groups = uuid.split("-")
    if len(groups) != 5:
        return f"UUID {uuid} повреждён: {len(groups)} групп вместо 5"
    for i, (g, want) in enumerate(zip(groups, _UUID_GROUPS), 1):
        if not re.fullmatch(r"[0-9a-fA-F]*", g):
            return f"UUID {uuid} повреждён: в {i}-й группе есть не шестнадцатеричные символы"
        if len(g) != want:
            return (f"UUID {uuid} повреждён: в {i}-й группе {len(g)} шестнадцатеричных цифр вместо {want} "
                    f"(при копировании потерян или добавлен символ)")
    return f"UUID {uuid} повреждён"


def _yn(flags: dict[str, bool | None], name: str) -> str:
    v = flags.get(name)
    return "-" if v is None else ("Да" if v else "Нет")


def _flag_list(flags: dict[str, bool | None], *names: str) -> str:
    return ", ".join(f"{n}:{_yn(flags, n)}" for n in names)


def _summary_758(f: dict[str, Any]) -> tuple[str, list[str]]:
    price, mx, mn = f.get("Цена"), f.get("Макс"), f.get("Мин")
    extra: list[str] = []
    if price is None:
        return "Цена товара не соответствует ограничениям ГИС МТ (цена в записи не прочитана).", extra
    start = f"Товар добавляли в чековый буфер с ценой ({rub(price)})"
    if mx and price > mx:
        return f"{start} выше МРЦ ({rub(mx)}).", extra
    if mx and price < mx:
        extra.append("Если это никотиносодержащая продукция или альтернативный табак (группы с минимальной ценой), "
                     f"«Макс» в записи — минимальная цена (МЦ): цена ниже МЦ ({rub(mx)}).")
        if mn and price < mn:
            extra.append(f"Цена также ниже единой минимальной цены, ЕМЦ ({rub(mn)}).")
        return f"{start} ниже МРЦ ({rub(mx)}).", extra
    if mn and price < mn:
        return f"{start} ниже единой минимальной цены, ЕМЦ ({rub(mn)}).", extra
    limits = ", ".join(x for x in (f"МРЦ {rub(mx)}" if mx else "", f"ЕМЦ {rub(mn)}" if mn else "") if x)
    extra.append("Для блока сигарет ЕМЦ умножается на число пачек в блоке.")
    return f"{start}, не допустимой по правилам цены ГИС МТ ({limits or 'ограничения в записи не указаны'}).", extra


def _summary(code: int, f: dict[str, Any], text: str | None) -> tuple[str, list[str]]:
    flags: dict[str, bool | None] = f.get("flags", {})
    elapsed = f.get("ВремяОбработки")
    waited = f" (ожидание {elapsed} мс)" if elapsed is not None else ""
    if code == 758:
        return _summary_758(f)
    if code == 754:
        return ("Код маркировки выведен из оборота: по данным ГИС МТ товар с этим кодом уже продан "
                f"({_flag_list(flags, 'Продан', 'В обороте')}), продать его ещё раз нельзя."), []
    if code == 751:
        return (f"Код маркировки не найден в ГИС МТ ({_flag_list(flags, 'Найден')}): такой код не выпускался "
                "или отсканирован с ошибкой."), []
    if code == 752:
        return (f"Код маркировки выпущен, но в ГИС МТ нет сведений о его нанесении на товар "
                f"({_flag_list(flags, 'Нанесен')})."), []
    if code == 753:
        return (f"Код маркировки не прошёл криптографическую проверку ({_flag_list(flags, 'Крипто')}): "
                "код поддельный или прочитан не полностью."), []
    if code == 755:
        return (f"Код заблокирован по решению органа государственной власти ({_flag_list(flags, 'Заблокирован')}); "
                "продавать товар нельзя."), []
    if code == 756:
        return (f"Товар не продан, но и не введён в оборот ({_flag_list(flags, 'Продан', 'В обороте', 'Серая зона')}) "
                "и не относится к серой зоне: продавать его нельзя."), []
    if code == 757:
        exp = f.get("ГоденДо")
        if f.get("no_expiry"):
            return "Срок годности товара истёк, хотя дата окончания срока в ответе ГИС МТ не указана.", []
        return f"Срок годности товара истёк: годен до {exp}.", []
    generic = {
        747: "Площадка CDN не выбрана: ККТ ещё не получила список площадок ГИС МТ (выполните «СТАТУС ГИС МТ»).",
        748: f"Нет связи с сервером ГИС МТ: соединение не установлено или ответ не пришёл вовремя{waited}.",
        749: "Настройки ГИС МТ в ККТ неверны: нет токена или имени хоста, либо они введены с ошибкой.",
        750: "Ответ ГИС МТ пришёл, но разобрать его не удалось.",
        760: "ГИС МТ вернул в ответе ошибку, которую признаки кода не объясняют.",
        761: "ГИС МТ отклонил токен как недействительный: получите новый токен и введите его в ККТ.",
        762: "ГИС МТ сообщил об аварийной ситуации: ККТ перешла в аварийный режим.",
        764: "Все площадки CDN недоступны: ККТ запросит список площадок заново.",
        765: "ГИС МТ отклонил запрос как неверный.",
        766: "Сервис трансграничной проверки кодов недоступен.",
        768: f"Исчерпаны попытки соединения с площадкой ГИС МТ{waited}.",
        # MODELLED code of the emulator (not in the vendor's list): a duplicate КМ refused at the scan.
        790: "Этот код маркировки уже есть в чеке: повторное сканирование отклонено, запросов не было.",
    }
    if code in generic:
        return generic[code], []
    if text is not None and 650 <= code <= 658:
        return f"Ошибка защищённого соединения (TLS) с ГИС МТ: {text[0].lower()}{text[1:]}.", []
    if text is not None:
        return f"{text}.", []
    return f"Код {code} не описан в инструкции производителя.", []


_CODE_FLAG = {751: ("Найден", False), 752: ("Нанесен", False), 753: ("Крипто", False), 754: ("Продан", True),
              755: ("Заблокирован", True), 756: ("В обороте", False)}


def _details(code: int, f: dict[str, Any]) -> tuple[list[str], list[str]]:
    out: list[str] = []
    problems: list[str] = []
    flags: dict[str, bool | None] = f.get("flags", {})
    if flags and all(v is None for v in flags.values()):
        out.append("Ответа ГИС МТ с результатами проверки кода нет (признаки «-»).")
    elif flags:
        fine = {"Найден": True, "Нанесен": True, "Крипто": True, "Продан": False, "Заблокирован": False,
                "В обороте": True, "Серая зона": False}
        bad = [n for n, v in flags.items() if v is not None and v != fine[n]]
        shown = ", ".join(f"{n}:{_yn(flags, n)}" for n in flags)
        if bad:
            out.append(f"Признаки кода в ГИС МТ: {shown}; отклонения: {', '.join(bad)}.")
        else:
            out.append(f"Признаки кода в ГИС МТ в порядке ({shown}).")
        if code in _CODE_FLAG:
            name, want = _CODE_FLAG[code]
            if flags.get(name) is not None and flags.get(name) != want:
                problems.append(f"код {code} не согласуется с признаком {name}:{_yn(flags, name)}")
    if f.get("ГоденДо") and not (flags and all(v is None for v in flags.values())):
        if f.get("no_expiry"):
            out.append(f"Срок годности в ответе не указан (ГоденДо:{f['ГоденДо']} означает «без даты»).")
        elif code != 757:
            out.append(f"Годен до {f['ГоденДо']}.")
    price, mx = f.get("Цена"), f.get("Макс")
    if code != 758 and price is not None and mx:
        if price == mx:
            out.append(f"Цена ({rub(price)}) равна МРЦ ({rub(mx)}): по цене нарушения нет.")
        else:
            out.append(f"Цена ({rub(price)}) отличается от МРЦ ({rub(mx)}).")
    tag = f.get("2106")
    if tag is not None:
        out.append(f"Проверка по тегу 2106 = {tag}: {_tag2106_text(tag)}.")
    no_answer = bool(flags) and all(v is None for v in flags.values())
    if f.get("ВремяОбработки") is not None:
        if no_answer:
            out.append(f"ККТ ждала ответа ГИС МТ {f['ВремяОбработки']} мс.")
        else:
            out.append(f"Запрос к ГИС МТ обработан за {f['ВремяОбработки']} мс.")
    parts = []
    if f.get("UUID"):
        parts.append(f"reqId {f['UUID']}")
    if f.get("Time") is not None:
        parts.append(f"время ответа {msk_time(f['Time'])}")
    if parts:
        out.append("Ответ ГИС МТ: " + ", ".join(parts) + ".")
    return out, problems


def _tag2106_text(tag: int) -> str:
    if tag == 0:
        return "проверка кода в ФН и в ОИСМ не проводилась"
    parts = []
    if tag & 1:
        parts.append("проверка кода в ФН проведена, результат " + ("положительный" if tag & 2 else "отрицательный"))
    else:
        parts.append("проверка кода в ФН не проводилась")
    if tag & 4:
        parts.append("статус товара в ОИСМ проверен, результат " + ("положительный" if tag & 8 else "отрицательный"))
    else:
        parts.append("статус товара в ОИСМ не проверялся")
    return "; ".join(parts)


def explain(text: str) -> list[Explanation]:
    """Explanations for every record found in ``text`` (empty when none is found)."""
    table = error_table()
    out = []
    for source, code, seq, body in split_records(text):
        whole = len(body) <= MAX_RECORD_CHARS
        body = cut_body(body[:MAX_RECORD_CHARS])
        fields, problems = parse_body(body)
        if not whole and len(body.rstrip()) >= MAX_RECORD_CHARS - 1:   # the record itself was cut
            problems.append(f"запись длиннее {MAX_RECORD_CHARS} символов: объяснено только начало")
        err = table.get(code)
        error_text = err.text if err else None
        if err is None:
            problems.append(f"код {code} отсутствует в таблице ошибок ККТ")
        summary, extra = _summary(code, fields, error_text)
        details, more = _details(code, fields)
        record = f"{source}\t{code}\t[{seq}]\n" + re.sub(r"(?<=-)\s+(?=[0-9a-fA-F])", "", body.strip("\n"))
        out.append(Explanation(code, error_text, source, seq, fields, summary, extra + details, problems + more,
                               record.rstrip()))
    return out


MAX_REPORT_BYTES = 16 << 20     # a report file read at most this far (``/dev/zero`` included)


def _read_source(source: str) -> str:
    """The text of one ``source`` (a file, or ``-`` for stdin); ValueError saying in one line what is wrong."""
    try:
        if source == "-":
            stream = getattr(sys.stdin, "buffer", None)
            raw: bytes | str = stream.read(MAX_REPORT_BYTES + 1) if stream is not None \
                else sys.stdin.read(MAX_REPORT_BYTES + 1)
        else:
            with open(source, "rb") as f:
                raw = f.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{source}: не удаётся прочитать: {exc.strerror or exc}") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise ValueError(f"{source}: больше {MAX_REPORT_BYTES >> 20} МиБ — это не отчёт ККТ")
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: не текст UTF-8 (байт {exc.start}) — это не отчёт ККТ") from None


def main_explain(argv: list[str] | None = None) -> int:
    """CLI: ``explain-log FILE...`` | ``explain-log -`` (stdin) | ``explain-log --text "ГИС МТ\t758\t[9812] …"``.

    Exit 0 when records were explained, 1 when none were found, 2 when an input cannot be
    read (one line on stderr): a name that is no file is an error, never taken as record text.
    """
    ap = argparse.ArgumentParser(prog="kkt-emu explain-log",
                                 description="Объяснить записи лога разрешительного режима ККТ")
    ap.add_argument("source", nargs="*", help="файл отчёта или «-» для stdin")
    ap.add_argument("--text", action="append", default=[], metavar="ТЕКСТ", help="сам текст записи")
    ap.add_argument("--json", action="store_true", help="вывести разобранные поля в JSON")
    args = ap.parse_args(argv)
    if not args.source and not args.text:
        ap.error("укажите файл отчёта, «-» для stdin или --text ТЕКСТ")
    texts = list(args.text)
    for source in args.source:
        try:
            texts.append(_read_source(source))
        except ValueError as exc:
            print(f"kkt-emu explain-log: {exc}", file=sys.stderr)
            return 2
    found = explain("\n\n".join(texts))
    if args.json:
        print(json.dumps([e.to_json() for e in found], ensure_ascii=False, indent=1))
    else:
        print("\n\n".join(e.text() for e in found) if found else "Записи лога не найдены.")
    return 0 if found else 1
