"""Safe YAML loading that remembers where every value came from.

ruamel.yaml's round-trip loader is used because it records the line and
column of every mapping key and sequence item, so a validation error can point
at the exact spot; it only ever builds plain mappings, sequences and scalars.
"""

from __future__ import annotations

import io
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

_CORE_TAG_PREFIX = "tag:yaml.org,2002:"
_CORE_TAGS = {"str", "int", "float", "bool", "null", "map", "seq", "timestamp"}


class Located:
    """Parsed YAML data plus a way to find the source position of a field path."""

    def __init__(self, data: Any, source: str) -> None:
        self.data = data
        self.source = source
        #: dotted paths replaced on the command line, mapped to their flag text
        self.overrides: dict[tuple[str, ...], str] = {}

    def locate(self, loc: tuple[str | int, ...]) -> Problem:
        """Return a problem skeleton pointing at the deepest known part of ``loc``."""
        node = self.data
        path: list[str] = []
        line, col = (1, 1) if isinstance(self.data, Mapping) else (None, None)
        for n, part in enumerate(loc):
            key: Any = part
            nxt = loc[n + 1] if n + 1 < len(loc) else None
            if isinstance(node, Mapping):
                if key not in node:
                    continue  # a union tag in pydantic's loc, not a data key
                if node.get("kind") == key and not _holds(node[key], nxt):
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

    def size(node: Any, path: tuple[Any, ...]) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
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
        sizes[key] = 1  # guards against recursive aliases
        if isinstance(node, Mapping):
            total = 1 + sum(size(v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            total = 1 + sum(size(v, (*path, i)) for i, v in enumerate(node))
        else:
            total = 1
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


def load_text(text: str, source: str) -> Located:
    """Parse YAML text safely; raise :class:`InputError` naming the position."""
    try:
        data = _yaml().load(text)
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
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror}"
        raise InputError([Problem(str(p), None, None, "", msg)]) from None
    except UnicodeDecodeError:
        raise InputError([Problem(str(p), None, None, "", "file is not UTF-8 text")]) from None
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
    set_path(located.data, parts, parse_value(value_text, flag), flag)
    located.overrides[tuple(parts)] = flag


def split_path(path_text: str, source: str) -> list[str]:
    """Split a dotted path, refusing empty segments."""
    parts = path_text.strip().split(".")
    if not path_text.strip() or any(not p for p in parts):
        raise InputError([Problem(source, None, None, path_text, "empty path segment")])
    return parts


def set_path(data: Any, parts: list[str], value: Any, source: str) -> None:
    """Set ``value`` at a dotted path in plain data, in place.

    The path goes through mappings (and sequences, by integer index); every
    mapping on the way must exist, the last key may be new.
    """
    node = data
    walked: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
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
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        else:
            msg = f"cannot descend into {type(node).__name__} with {part!r}"
            raise InputError([Problem(source, None, None, ".".join(walked), msg)])
        walked.append(part)


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
