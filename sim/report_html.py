"""A report as one self-contained HTML page: inline CSS, inline SVG figures, nothing fetched.

Everything is built with the standard library (:func:`html.escape` and plain
strings): the page is small and fixed, and a template engine would be one
more dependency. A Content-Security-Policy in the page itself forbids every
load but inline styles and ``data:`` images, so a page that tried to fetch
anything would be blocked in the reader's browser (and caught by the tests).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from sim.report_premises import Premises

#: The page's policy: no script, no connection, no font, no frame; inline CSS, data: images.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.lead { color: #444; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.92rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left;
  vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.assumption td:first-child { border-left: 4px solid #E69F00; }
tr.fact td:first-child { border-left: 4px solid #0072B2; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 0.85rem; }
pre { background: #f7f7f7; padding: 0.6rem; overflow-x: auto; }
.tag { display: inline-block; font-size: 0.75rem; padding: 0 0.35rem; border-radius: 0.3rem;
  margin-right: 0.2rem; background: #eee; }
.tag.assumption { background: #fbe3b3; } .tag.fact { background: #cfe3f3; }
.note { color: #555; font-size: 0.9rem; }
.warn { background: #fff4e0; border-left: 4px solid #E69F00; padding: 0.4rem 0.7rem; }
figure { margin: 1.2rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9rem; color: #444; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.prov dt { font-weight: 600; } dl.prov dd { margin: 0; word-break: break-all; }
details { margin: 0.8rem 0; } summary { cursor: pointer; }
"""


# --------------------------------------------------------------- page parts
@dataclass
class Table:
    """A table: header cells and rows of text; ``numeric`` columns are right-aligned."""

    headers: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)
    caption: str | None = None
    row_classes: list[str] | None = None


@dataclass
class Figure:
    """A figure as SVG text (matplotlib's SVG backend) and its caption."""

    caption: str
    svg: str


@dataclass
class Text:
    """A paragraph; ``kind`` ``note`` or ``warn`` styles it."""

    text: str
    kind: str = ""


@dataclass
class Details:
    """A folded block of preformatted text."""

    summary: str
    text: str


Block = Table | Figure | Text | Details


@dataclass
class Section:
    """A titled part of the report."""

    title: str
    blocks: list[Block | Section] = field(default_factory=list)


# -------------------------------------------------------------------- SVG
_XML_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*", re.IGNORECASE)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element to put in HTML, its ids made unique with ``prefix``.

    The XML prolog and RDF metadata go; every ``id`` and every reference to one
    (``url(#id)``, ``href="#id"``) gets the prefix, so that two figures'
    clip paths and glyphs never resolve to each other's.
    """
    svg = _METADATA.sub("", _XML_PROLOG.sub("", svg))
    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document")
    return svg[start:].strip()


def figure_svg(fig: Any) -> str:
    """A matplotlib figure as SVG text (text as paths: no font is needed), then closed."""
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    # a fixed salt makes the ids, and so the report, the same on every run
    with matplotlib.rc_context({"svg.hashsalt": "stancesim", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


# ------------------------------------------------------------------- HTML
def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    rows = []
    for i, row in enumerate(t.rows):
        cls = t.row_classes[i] if t.row_classes else ""
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if k in t.numeric else f"<td>{escape(c)}</td>"
            for k, c in enumerate(row)
        )
        rows.append(f'<tr class="{escape(cls)}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    caption = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _block(b: Block | Section, counter: list[int], level: int) -> str:
    if isinstance(b, Section):
        return _section(b, counter, level + 1)
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Figure):
        counter[0] += 1
        svg = inline_svg(b.svg, f"f{counter[0]}-")
        return (
            f'<figure id="figure-{counter[0]}">{svg}'
            f"<figcaption>Figure {counter[0]}. {escape(b.caption)}</figcaption></figure>"
        )
    if isinstance(b, Details):
        return (
            f"<details><summary>{escape(b.summary)}</summary><pre>{escape(b.text)}</pre></details>"
        )
    cls = f' class="{b.kind}"' if b.kind else ""
    return f"<p{cls}>{escape(b.text)}</p>"


def _section(s: Section, counter: list[int], level: int = 2) -> str:
    h = min(level, 4)
    body = "\n".join(_block(b, counter, level) for b in s.blocks)
    return f"<section><h{h}>{escape(s.title)}</h{h}>\n{body}</section>"


def premises_section(p: Premises | None, source: str | None, notes: Sequence[str]) -> Section:
    """The scenario's premises: preamble, premise index, annotated fields, the file verbatim."""
    s = Section("Premises and assumptions")
    for warning in notes:
        s.blocks.append(Text(warning, "warn"))
    if p is None:
        return s
    s.blocks += [Text(par) for par in p.preamble]
    s.blocks.append(
        Text(
            f"The file marks {p.count('assumption')} assumptions and {p.count('fact')} facts "
            f"in {len(p.notes)} comments.",
            "note",
        )
    )
    index = p.premise_index()
    if index:
        s.blocks.append(
            Section(
                "Where each premise is encoded",
                [
                    Table(
                        ["premise", "fields"], [[k, ", ".join(v) or "—"] for k, v in index.items()]
                    )
                ],
            )
        )
    rows: list[list[str]] = []
    classes: list[str] = []
    for n in p.notes:
        kinds = n.kinds
        rows.append([str(n.line), n.path or "—", n.code, " ".join([*kinds, *n.premises]), n.text])
        classes.append(kinds[0] if kinds else "")
    if rows:
        s.blocks.append(
            Section(
                "Every comment, with the field it annotates",
                [Table(["line", "field", "YAML", "marks", "comment"], rows, {0}, None, classes)],
            )
        )
    if source is not None:
        s.blocks.append(Details("The scenario file, verbatim", source))
    return s


def render(
    title: str,
    lead: str,
    provenance: list[tuple[str, str]],
    sections: list[Section],
) -> str:
    """The whole page."""
    counter = [0]
    prov = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in provenance)
    body = "\n".join(_section(s, counter) for s in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="stancesim">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>{escape(title)}</h1><p class="lead">{escape(lead)}</p></header>
<section id="provenance"><h2>Provenance</h2><dl class="prov">{prov}</dl></section>
{body}
</body>
</html>
"""
