"""A scenario file's premises and assumptions: its comments, tied to the fields they annotate.

Scenario authors mark each number as a ``fact:`` or an ``assumption:`` and
tag the premises it encodes (``P3``) in YAML comments. YAML parsers drop
comments, so they are read here from the text: a comment at the end of a
line annotates the field that starts on that line; a block of whole-line
comments annotates the next field; comments before the first field are the
file's preamble. Field positions come from ruamel.yaml's line records
(:mod:`sim.yamlio`). This is for showing, never for running: a comment it
misreads is shown under the wrong field, nothing more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_PREMISE = re.compile(r"\bP(\d+)\b")
_ASSUMPTION = re.compile(r"\bassum(ption|ed|es)\b", re.IGNORECASE)
_FACT = re.compile(r"\bfacts?:", re.IGNORECASE)
_BLOCK_SCALAR = re.compile(r"(^|[:\-]\s)\s*[|>][-+0-9]*\s*$")
#: characters after which a quote starts a quoted scalar (else it is an apostrophe)
_QUOTE_AFTER = set(":-[{,?")


@dataclass
class Note:
    """One comment (or block of whole-line comments) and the field it annotates."""

    line: int  # 1-based line of the comment's first line
    path: str  # dotted field path ("" when none follows)
    code: str  # the annotated line's YAML, without its comment
    text: str

    @property
    def kinds(self) -> list[str]:
        """``assumption`` and/or ``fact`` when the comment says so."""
        out = []
        if _ASSUMPTION.search(self.text):
            out.append("assumption")
        if _FACT.search(self.text):
            out.append("fact")
        return out

    @property
    def premises(self) -> list[str]:
        """Premise labels mentioned (``P1``, ``P2``, ...), in order, once each."""
        seen = dict.fromkeys(f"P{m}" for m in _PREMISE.findall(self.text))
        return list(seen)


@dataclass
class Premises:
    """The comments of a scenario file."""

    preamble: list[str] = field(default_factory=list)  # paragraphs
    notes: list[Note] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """Notes of one kind (``assumption`` or ``fact``)."""
        return sum(kind in n.kinds for n in self.notes)

    def premise_index(self) -> dict[str, list[str]]:
        """Each premise label and the fields where it is marked, ordered by number."""
        index: dict[str, list[str]] = {}
        for n in self.notes:
            for p in n.premises:
                index.setdefault(p, [])
                if n.path and n.path not in index[p]:
                    index[p].append(n.path)
        return dict(sorted(index.items(), key=lambda kv: int(kv[0][1:])))


def split_comment(line: str) -> tuple[str, str | None]:
    """``(code, comment)`` of a YAML line; the comment is None when there is none."""
    quote: str | None = None
    last = ""  # last non-blank character outside quotes
    for i, ch in enumerate(line):
        if quote is not None:
            if ch == quote and not (quote == '"' and line[i - 1] == "\\"):
                quote = None
                last = ch
            continue
        if ch in "'\"" and (last == "" or last in _QUOTE_AFTER):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1 :].strip()
        elif not ch.isspace():
            last = ch
    return line.rstrip(), None


def field_lines(data: Any) -> dict[int, str]:
    """1-based line to the shallowest field path starting on it (ruamel line records)."""
    lines: dict[int, str] = {}

    def walk(node: Any, path: str) -> None:
        lc = getattr(node, "lc", None)
        if isinstance(node, dict):
            for key, value in node.items():
                sub = f"{path}.{key}" if path else str(key)
                if lc is not None:
                    try:
                        lines.setdefault(lc.key(key)[0] + 1, sub)
                    except (KeyError, TypeError, AttributeError):
                        pass
                walk(value, sub)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                sub = f"{path}.{i}"
                if lc is not None:
                    try:
                        lines.setdefault(lc.item(i)[0] + 1, sub)
                    except (KeyError, TypeError, AttributeError, IndexError):
                        pass
                walk(value, sub)

    walk(data, "")
    return lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def read_premises(text: str, data: Any) -> Premises:
    """The comments of ``text`` (a YAML file) tied to the fields of ``data`` (its ruamel tree).

    Parameters
    ----------
    text : str
        The file's text.
    data : ruamel CommentedMap
        The same text parsed by :func:`sim.yamlio.load_text` (its ``.data``).
    """
    fields = field_lines(data)
    first_field = min(fields, default=len(text.splitlines()) + 1)
    out = Premises()
    pending: list[tuple[int, str]] = []  # whole-line comments waiting for their field
    block_indent: int | None = None  # inside a block scalar: lines indented more are text
    lines = text.splitlines()
    for number, raw in enumerate(lines, start=1):
        if block_indent is not None:
            if not raw.strip() or _indent(raw) > block_indent:
                continue
            block_indent = None
        code, comment = split_comment(raw)
        if not code.strip():
            if comment is None:
                if number < first_field and pending:  # a blank line ends a preamble paragraph
                    out.preamble.append(" ".join(t for _, t in pending if t))
                    pending = []
                continue
            if number < first_field and not comment:  # "#" alone ends a preamble paragraph
                out.preamble.append(" ".join(t for _, t in pending if t))
                pending = []
                continue
            pending.append((number, comment))
            continue
        if _BLOCK_SCALAR.search(code):
            block_indent = _indent(raw)
        if number == first_field and pending:
            out.preamble.append(" ".join(t for _, t in pending if t))
            pending = []
        path = fields.get(number, "")
        if pending:
            text_ = " ".join(t for _, t in pending if t)
            out.notes.append(Note(pending[0][0], path, code.strip(), text_))
            pending = []
        if comment:
            out.notes.append(Note(number, path, code.strip(), comment))
    if pending:
        joined = " ".join(t for _, t in pending if t)
        if out.notes or fields:
            out.notes.append(Note(pending[0][0], "", "", joined))
        else:
            out.preamble.append(joined)
    out.preamble = [p for p in out.preamble if p]
    return out
