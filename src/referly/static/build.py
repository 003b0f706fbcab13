"""Serve `universal.js`: compacted once at startup, gzipped once, with a strong ETag.

The compactor is a small tokenizer for the script's own plain ES5-style code: it drops
comments and every whitespace run that separates no two word characters. It knows string and
regular-expression literals, so their contents pass through untouched. The script never
relies on automatic semicolon insertion, which is what makes dropping newlines safe."""

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

SIZE_BUDGET = 1536  # bytes, gzipped
SOURCE = "universal.js"
WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
# After one of these a `/` starts a regular expression, elsewhere it would be division.
REGEX_AFTER = frozenset("(,=:[!&|?{};+-*%<>~^")


@dataclass(frozen=True)
class ServedScript:
    body: bytes
    gzipped: bytes
    etag: str  # of the plain body; the gzipped body has its own
    etag_gzipped: str


def read_source() -> str:
    return resources.files("referly.static").joinpath(SOURCE).read_text(encoding="utf-8")


def load_script() -> ServedScript:
    body = compact(read_source()).encode()
    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    digest = hashlib.sha256(body).hexdigest()[:20]
    return ServedScript(body, gzipped, etag=f'"{digest}"', etag_gzipped=f'"{digest}-gz"')


def compact(source: str) -> str:
    out: list[str] = []
    index, spaced = 0, False
    while index < len(source):
        char = source[index]
        if char.isspace():
            index, spaced = index + 1, True
            continue
        if source.startswith("//", index) or source.startswith("/*", index):
            index, spaced = _skip_comment(source, index), True
            continue
        end = _token_end(source, index, out[-1][-1] if out else ";")
        token = source[index:end]
        if token == "}" and out and out[-1] == ";":
            out.pop()  # a semicolon right before a closing brace is never needed
        elif spaced and out and _needs_space(out[-1][-1], token[0]):
            out.append(" ")
        out.append(token)
        index, spaced = end, False
    return "".join(out) + "\n"


def _skip_comment(source: str, index: int) -> int:
    if source.startswith("//", index):
        end = source.find("\n", index)
        return len(source) if end < 0 else end
    end = source.find("*/", index + 2)
    if end < 0:
        raise ValueError("unterminated comment in universal.js")
    return end + 2


def _token_end(source: str, index: int, previous: str) -> int:
    char = source[index]
    if char in "'\"":
        return _literal_end(source, index, char)
    if char == "/" and previous in REGEX_AFTER:
        return _regex_end(source, index)
    if char in WORD:
        end = index
        while end < len(source) and source[end] in WORD:
            end += 1
        return end
    return index + 1


def _literal_end(source: str, index: int, quote: str) -> int:
    end = index + 1
    while source[end] != quote:
        if source[end] == "\n":
            raise ValueError("unterminated string in universal.js")
        end += 2 if source[end] == "\\" else 1
    return end + 1


def _regex_end(source: str, index: int) -> int:
    end, in_class = index + 1, False
    while in_class or source[end] != "/":
        if source[end] == "\n":
            raise ValueError("unterminated regular expression in universal.js")
        if source[end] == "\\":
            end += 1
        elif source[end] in "[]":
            in_class = source[end] == "["
        end += 1
    end += 1
    while end < len(source) and source[end].isalpha():
        end += 1
    return end


def _needs_space(before: str, after: str) -> bool:
    return (before in WORD and after in WORD) or before + after in ("++", "--", "+-", "-+")
