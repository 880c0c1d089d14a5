"""Safe YAML loading that remembers where every value came from.

ruamel.yaml's round-trip loader is used because it records the line and
column of every mapping key and sequence item, so a validation error can point
at the exact spot; it only ever builds plain mappings, sequences and scalars.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim.errors import InputError, Problem

#: Largest number of nodes a document may expand to once aliases are followed.
#: A scenario has a few hundred; this stops "billion laughs" files early.
MAX_EXPANDED_NODES = 200_000

#: Largest input file, checked before reading: parsing runs at tens of kB per second,
#: and a shipped scenario is under 10 kB.
MAX_FILE_BYTES = 1024 * 1024

#: Deepest nesting of mappings and sequences; a scenario needs fewer than 10 levels.
MAX_DEPTH = 64

#: Longest integer literal (Python refuses to convert more than 4300 digits).
MAX_INT_DIGITS = 100

_CORE_TAG_PREFIX = "tag:yaml.org,2002:"
_CORE_TAGS = {"str", "int", "float", "bool", "null", "map", "seq", "timestamp"}


class Located:
    """Parsed YAML data plus a way to find the source position of a field path."""

    def __init__(self, data: Any, source: str) -> None:
        self.data = data
        self.source = source
        #: dotted paths replaced on the command line, mapped to their flag text
        self.overrides: dict[tuple[str, ...], str] = {}

    def locate(self, loc: tuple[str | int, ...], exact: bool = False) -> Problem:
        """Return a problem skeleton pointing at the deepest known part of ``loc``.

        ``loc`` is pydantic's (with union tags among the keys) unless ``exact``,
        when it is a plain path through the data.
        """
        node = self.data
        path: list[str] = []
        line, col = (1, 1) if isinstance(self.data, Mapping) else (None, None)
        tag_of: Any = None  # the node whose tag was just skipped
        for n, part in enumerate(loc):
            key: Any = part
            nxt = loc[n + 1] if n + 1 < len(loc) else None
            if isinstance(node, Mapping) and exact and key in node:
                pos = _key_pos(node, key)
                node = node[key]
            elif isinstance(node, Mapping):
                if key not in node:
                    continue  # a union tag in pydantic's loc, not a data key
                if node.get("kind") == key and not _holds(node[key], nxt) and tag_of is not node:
                    tag_of = node
                    continue  # the tag of this very object, named like one of its keys
                if nxt is not None and nxt != key and nxt in node:
                    inner = node[key]
                    if not (isinstance(inner, Mapping) and nxt in inner):
                        continue  # a tag named like a key (e.g. a "threshold" rule)
                pos = _key_pos(node, key)
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                pos = _item_pos(node, key)
                node = node[key]
            else:
                continue
            path.append(str(part))
            if pos is not None:
                line, col = pos[0] + 1, pos[1] + 1
            flag = self.overrides.get(tuple(path))
            if flag is not None:
                return Problem(flag, None, None, ".".join(path), "")
        return Problem(self.source, line, col, ".".join(path), "")


def _holds(container: Any, part: Any) -> bool:
    if isinstance(container, Mapping):
        return part in container
    if isinstance(container, list):
        return isinstance(part, int) and 0 <= part < len(container)
    return False


def _key_pos(node: Any, key: Any) -> tuple[int, int] | None:
    if isinstance(node, CommentedMap):
        try:
            return tuple(node.lc.key(key))
        except (KeyError, TypeError):
            return None
    return None


def _item_pos(node: Any, index: int) -> tuple[int, int] | None:
    if isinstance(node, CommentedSeq):
        try:
            return tuple(node.lc.item(index))
        except (KeyError, TypeError, IndexError):
            return None
    return None


def _check_expansion(located: Located) -> None:
    """Reject non-core tags and documents whose aliases expand too far."""
    sizes: dict[int, int] = {}

    def problem(path: tuple[Any, ...], message: str) -> InputError:
        where = located.locate(path)
        return InputError([Problem(where.source, where.line, where.column, where.path, message)])

    ancestors: set[int] = set()

    def size(node: Any, path: tuple[Any, ...]) -> int:
        key = id(node)
        if key in ancestors:
            raise problem(path, "a YAML alias refers to a node that contains it (a cycle)")
        if key in sizes:
            return sizes[key]
        if len(path) > MAX_DEPTH:
            raise problem(path, f"nested more than {MAX_DEPTH} levels deep")
        tag = getattr(node, "tag", None)
        value = getattr(tag, "value", None)
        if isinstance(value, str) and (
            value.startswith("!")
            or (
                value.startswith(_CORE_TAG_PREFIX)
                and value[len(_CORE_TAG_PREFIX) :] not in _CORE_TAGS
            )
        ):
            raise problem(path, f"YAML tag {value!r} is not allowed (plain data only)")
        ancestors.add(key)
        if isinstance(node, Mapping):
            total = 1 + sum(size(v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            total = 1 + sum(size(v, (*path, i)) for i, v in enumerate(node))
        else:
            total = 1
        ancestors.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise problem(
                path,
                f"YAML aliases expand this document to more than "
                f"{MAX_EXPANDED_NODES} nodes; refusing to load it",
            )
        sizes[key] = total
        return total

    size(located.data, ())


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def _first_bad_node(text: str, source: str) -> InputError:
    """Locate the value that made loading fail (too deep, a huge integer, a bad date).

    Only called after a failed load: it parses again, event by event (the
    parser keeps its own stack, so deep nesting cannot overflow Python's), and
    then builds each scalar on its own.
    """
    y = _yaml()
    depth = 0

    def at(mark: Any, msg: str) -> InputError:
        return InputError([Problem(source, mark.line + 1, mark.column + 1, "", msg)])

    for event in y.parse(text):
        name = type(event).__name__
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            if depth > MAX_DEPTH:
                return at(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1
        elif name == "ScalarEvent" and event.style is None:
            digits = event.value.lstrip("+-").replace("_", "")
            if digits.isdigit() and len(digits) > MAX_INT_DIGITS:
                return at(
                    event.start_mark,
                    f"integer with {len(digits)} digits; at most {MAX_INT_DIGITS} are allowed",
                )
    node = y.compose(text)
    todo = [node]
    while todo:
        node = todo.pop()
        if isinstance(node.value, list):
            for item in node.value:
                todo.extend(item if isinstance(item, tuple) else [item])
            continue
        try:
            y.constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, TypeError) as exc:
            return at(node.start_mark, f"cannot read {node.value!r}: {exc}")
    return InputError([Problem(source, None, None, "", "invalid YAML")])


def _check_flow_depth(text: str, source: str) -> None:
    """Refuse deeply nested flow collections (``[[[...]]]``) before parsing.

    The YAML scanner takes time quadratic in the nesting depth of flow
    collections (3,000 levels: 20 s), so this is counted on the raw text.
    Brackets in quoted strings count too; no real file nests 64 of them.
    """
    depth = 0
    for m in _BRACKETS.finditer(text):
        if m[0] in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, m.start()) + 1
                col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
                msg = f"nested more than {MAX_DEPTH} levels deep"
                raise InputError([Problem(source, line, col, "", msg)])
        elif depth:
            depth -= 1


_BRACKETS = re.compile(r"[\[\]{}]")


def load_text(text: str, source: str) -> Located:
    """Parse YAML text safely; raise :class:`InputError` naming the position."""
    _check_flow_depth(text, source)
    try:
        data = _yaml().load(text)
    except (RecursionError, ValueError, OverflowError, TypeError):
        raise _first_bad_node(text, source) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        detail = str(exc.problem or exc.context).split(" with value ")[0]
        msg = f"invalid YAML: {detail}"
        raise InputError([Problem(source, line, col, "", msg)]) from None
    except YAMLError as exc:
        raise InputError([Problem(source, None, None, "", f"invalid YAML: {exc}")]) from None
    located = Located(data, source)
    _check_expansion(located)
    return located


def load_file(path: str | Path) -> Located:
    """Read and parse a YAML file."""
    p = Path(path)

    def refuse(msg: str) -> InputError:
        return InputError([Problem(str(p), None, None, "", msg)])

    try:
        # stat before opening: opening a FIFO would block until a writer appears
        info = os.stat(p)
        if not stat.S_ISREG(info.st_mode):
            raise refuse("not a regular file (a directory, FIFO or device); refusing to read it")
        if info.st_size > MAX_FILE_BYTES:
            raise refuse(
                f"file is {info.st_size / 2**20:.1f} MiB; input files are limited to "
                f"{MAX_FILE_BYTES // 2**20} MiB"
            )
        with open(p, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat
    except OSError as exc:
        raise refuse(f"cannot read file: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise refuse(f"file is over {MAX_FILE_BYTES // 2**20} MiB; refusing to read it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("file is not UTF-8 text") from None
    return load_text(text, str(p))


def parse_value(text: str, flag: str) -> Any:
    """Parse the VALUE of ``--set PATH=VALUE`` as YAML flow."""
    located = load_text(text if text.strip() else "''", flag)
    return located.data


def apply_set(located: Located, assignment: str) -> None:
    """Apply one ``PATH=VALUE`` override in place (VALUE in YAML flow syntax)."""
    flag = f"--set {assignment}"
    if "=" not in assignment:
        raise InputError([Problem(flag, None, None, "", "expected PATH=VALUE")])
    path_text, value_text = assignment.split("=", 1)
    parts = split_path(path_text, flag)
    resolved = set_path(located.data, parts, parse_value(value_text, flag), flag)
    located.overrides[tuple(resolved)] = flag


def split_path(path_text: str, source: str) -> list[str]:
    """Split a dotted path, refusing empty segments."""
    parts = path_text.strip().split(".")
    if not path_text.strip() or any(not p for p in parts):
        raise InputError([Problem(source, None, None, path_text, "empty path segment")])
    return parts


def item_index(items: list[Any], part: str) -> int | None:
    """Index of a sequence item named by ``part``: an integer index, or an item's ``id``.

    Ids are never plain integers (the schema refuses them), so the two cannot clash.
    """
    if part.isdigit():
        return int(part) if int(part) < len(items) else None
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("id") == part:
            return i
    return None


def set_path(data: Any, parts: list[str], value: Any, source: str) -> list[str]:
    """Set ``value`` at a dotted path in plain data, in place.

    The path goes through mappings (and sequences, by integer index or by the
    ``id`` of an item, as in ``agents.toner.rules.reinstate.resistance``);
    every mapping on the way must exist, the last key may be new.

    Returns
    -------
    list of str
        The path with every id replaced by its index (as errors locate it).
    """
    node = data
    walked: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        index = item_index(node, part) if isinstance(node, list) else None
        if index is not None:
            part = str(index)
        if isinstance(node, Mapping):
            if last:
                node[part] = value  # type: ignore[index]
            elif part in node:
                node = node[part]
            else:
                known = ", ".join(map(str, node)) or "none"
                where = ".".join([*walked, part])
                msg = f"no such key {part!r} (known here: {known})"
                raise InputError([Problem(source, None, None, where, msg)])
        elif isinstance(node, list) and index is not None:
            if last:
                node[index] = value
            else:
                node = node[index]
        else:
            where = ".".join(walked)
            raise InputError([Problem(source, None, None, where, _no_way(walked, node, part))])
        walked.append(part)
    return walked


def _no_way(walked: list[str], node: Any, part: str) -> str:
    """Why ``part`` cannot be followed from ``node`` (reached by ``walked``)."""
    if isinstance(node, list):
        n = len(node)
        if len(walked) == 3 and walked[0] == "agents" and walked[2] == "rules":
            what = f"agent {walked[1]!r} has {n} rule{'s' if n != 1 else ''}"
        else:
            what = f"{'.'.join(walked)} has {n} item{'s' if n != 1 else ''}"
        valid = f" (indices 0 to {n - 1})" if n else ""
        ids = [str(v["id"]) for v in node if isinstance(v, Mapping) and v.get("id") is not None]
        if ids:
            valid = f"{valid[:-1]}; ids: {', '.join(ids)})"
        missing = "index" if part.isdigit() else "index or id"
        return f"{what}{valid}, no {missing} {part!r}"
    kind = "null" if node is None else type(node).__name__
    kind = {"str": "text", "int": "a number", "float": "a number", "bool": "true/false"}.get(
        kind, kind
    )
    if "Scalar" in kind:
        kind = "a scalar"
    return f"{'.'.join(walked)} is {kind}, not a mapping; it has no key {part!r}"


def plain(data: Any) -> Any:
    """Strip ruamel's comment-carrying types down to dict/list/scalars (keys as str)."""
    if isinstance(data, Mapping):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    if isinstance(data, datetime):
        return datetime.fromisoformat(data.isoformat())
    for kind in (bool, str, int, float):  # bool before int: True is an int too
        if isinstance(data, kind):
            return kind(data)
    return data


def dump(data: Any) -> str:
    """Serialise plain data as block-style YAML."""
    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()
