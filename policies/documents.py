"""Load a YAML or JSON file into a typed model; every error names the file, the line and the field.

Lines come from PyYAML's composed node tree (JSON is read the same way, as YAML is a superset
of the JSON the toolkit writes), so a pydantic error location maps back to where a person
would put the cursor.
"""

import json
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from policies.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML has it: ~10x faster (a policy load was ~12 ms on a failover's path), same marks."""
_SECRET_WORDS = ("password", "secret", "token", "key_material", "private")


def load_document(path: Path, model: type[M], *, what: str) -> M:
    """Read `path` (YAML or JSON) as `model`; raise ConfigError with one clear sentence."""
    data, root = read_document(path, what=what)
    return validate_document(path, data, root, model)


Problem = tuple[tuple[str | int, ...], str]  # (field location, what is wrong) beyond what a type checks


def load_shipped_or(path: Path | None, shipped: str, model: type[M], *, what: str,
                    problems: Callable[[M], list[Problem]] | None = None) -> M:
    """Load `path`, or the file `shipped` with the toolkit when None; the first problem found is the error.

    `problems` catches what a type cannot (unknown names, order); its first one names file, line and field.
    """
    if path is None:
        with resources.as_file(resources.files("policies") / shipped) as bundled:
            return load_shipped_or(Path(bundled), shipped, model, what=what, problems=problems)
    data, root = read_document(path, what=what)
    document = validate_document(path, data, root, model)
    found = problems(document) if problems else []
    if found:
        loc, reason = found[0]
        line = line_of(root, loc)
        field = ".".join(str(part) for part in loc)
        where = f"{path}: line {line}: " if line else f"{path}: "
        raise ConfigError(f"{where}field '{field}': {reason}")
    return document


def read_document(path: Path, *, what: str) -> tuple[Any, yaml.Node | None]:
    """Parse a file into plain data plus the node tree used for line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: expected {_a(what)} file, found a directory") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the {what} file ({err})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: line {err.lineno}: not valid JSON ({err.msg})") from None
    else:
        try:
            data = yaml.load(text, Loader=LOADER)  # noqa: S506  # a safe loader
        except yaml.MarkedYAMLError as err:
            line = err.problem_mark.line + 1 if err.problem_mark else 0
            raise ConfigError(f"{path}: line {line}: not valid YAML ({err.problem})") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(data, dict):
        kind = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{path}: expected {_a(what)} mapping at the top level, found {kind}")
    try:
        root = yaml.compose(text, Loader=LOADER)
    except yaml.YAMLError:
        root = None
    return data, root


def validate_document(path: Path, data: Any, root: yaml.Node | None, model: type[M]) -> M:
    """Validate parsed data; the first error becomes the message."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        raise ConfigError(describe_error(path, root, first)) from None


def describe_error(path: Path, root: yaml.Node | None, error: Any) -> str:
    """One sentence: `FILE: line N: field 'a.b': expected ...`."""
    loc = [part for part in error["loc"] if not _is_variant_tag(part)]
    line = line_of(root, loc)
    field = ".".join(str(part) for part in loc) or "(top level)"
    where = f"{path}: line {line}: " if line else f"{path}: "
    kind = error["type"]
    if kind == "missing":
        return f"{where}field '{field}' is required but missing"
    if kind == "extra_forbidden":
        return f"{where}field '{field}' is not a known field"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    given = error.get("input")
    secret = any(word in field.lower() for word in _SECRET_WORDS)
    short = isinstance(given, str | int | float) and len(str(given)) <= 60
    if short and not secret and repr(given) not in message:
        message = f"{message} (got {given!r})"
    return f"{where}field '{field}': {_lowercase_first(message)}"


def line_of(root: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """Line (1-based) of the deepest node of `loc` that exists in the file."""
    node = root
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        key_node, node = child
        best = (key_node or node).start_mark.line + 1
    return best


def _child(node: yaml.Node | None, part: Any) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return None, node.value[part]
    return None


def _is_variant_tag(part: Any) -> bool:
    """pydantic puts union member names (`HostNode`, `function-after[...]`) into locations."""
    return isinstance(part, str) and (part[:1].isupper() or "[" in part)


def _lowercase_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def settings_from_flags(model: type[M], flags: dict[str, Any]) -> M:
    """Validate command-line values; the error names the flag (`--ssh-port`), not the field."""
    try:
        return model.model_validate(flags)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        loc = [part for part in first["loc"] if not _is_variant_tag(part)]
        flag = "--" + str(loc[0]).replace("_", "-") if loc else "(arguments)"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"option {flag}: {_lowercase_first(message)}") from None


def _a(what: str) -> str:
    """`a policy`, `an inventory`: the article English asks for."""
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"
