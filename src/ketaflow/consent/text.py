"""Consent wording: the exact text a patient signs, its hash, and its safe rendering.

The body is plain text with a little structure: a line starting `# ` or `## ` is a heading, lines
starting `- ` or `* ` form a bulleted list, and blank lines separate paragraphs. Rendering returns
plain data (`Block`s of text), which templates print with auto-escaping, so no markup a clinic types
(or pastes) ever reaches a page or a PDF as HTML.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

MAX_TITLE = 200
MAX_BODY = 30_000


class Wording(Protocol):
    title: str
    body: str


@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "subheading", "paragraph" or "list"
    text: str = ""
    items: tuple[str, ...] = field(default_factory=tuple)


def normalise(text: str) -> str:
    """Line endings as \\n, no trailing spaces on a line, no blank lines at either end."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def document_text(wording: Wording) -> str:
    """The exact text shown to the patient and signed: the title, a blank line, the body."""
    return f"{wording.title}\n\n{wording.body}"


def text_hash(wording: Wording) -> str:
    """SHA-256 (hex) of `document_text`, UTF-8: stored at signing, printed on the PDF."""
    return hashlib.sha256(document_text(wording).encode("utf-8")).hexdigest()


def blocks(body: str) -> list[Block]:
    """The body as headings, paragraphs and bulleted lists (text only; escaping is the template's)."""
    found: list[Block] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            found.append(Block("paragraph", " ".join(paragraph)))
            paragraph.clear()
        if items:
            found.append(Block("list", items=tuple(items)))
            items.clear()

    for raw in normalise(body).split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            found.append(Block("subheading", line[3:].strip()))
        elif line.startswith("# "):
            flush()
            found.append(Block("heading", line[2:].strip()))
        elif line.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(line[2:].strip())
        elif items and raw.startswith(("  ", "\t")):
            items[-1] = f"{items[-1]} {line}"  # an indented line continues the bullet above
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return found
