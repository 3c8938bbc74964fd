"""``nacre train``: every algorithm's settings as flags, generated from its config dataclass with tyro.

The command line is read in two steps:

1. :func:`parse_command` (argparse) reads what is not a config setting: ``ALGORITHM``, ``DISTRIBUTION``,
   ``--preset`` and the run options ``--run-dir``, ``--resume``, ``--iterations``, ``--no-progress``,
   ``--no-tensorboard`` and ``--help``. The other words are the algorithm's settings, kept in their order.
2. :func:`config_overrides` (tyro) parses those words against a mirror of the algorithm's config dataclass:
   one flag per field (``meta_batch`` -> ``--meta-batch``), grouped under the headings of the field comments,
   with the field's ``#:`` doc comment as its help. Only the settings given on the command line become
   overrides, which the algorithm's ``preset`` function applies on top of the preset, so defaults live in one
   place: the preset (or the dataclass default).

Nothing here names an algorithm: whatever :data:`nacre.training.loop.ALGORITHMS` registers gets its flags and
its ``--help``. tyro is imported only when settings are parsed or help is shown.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import difflib
import functools
import inspect
import io
import json
import os
import re
import sys
import textwrap
import tokenize
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from nacre.algos.registry import config_class, preset, preset_names  # torch-free; also used by the CLI and its tests

#: the config field that the DISTRIBUTION argument sets (no flag of its own)
POSITIONAL_FIELDS = frozenset({"env"})
#: options of ``nacre train`` that take a value / take none; every other ``--word`` is a config setting
_VALUE_OPTIONS = ("--preset", "--run-dir", "--resume", "--iterations")
_SWITCHES = ("--no-progress", "--no-tensorboard", "-h", "--help")


class SettingsError(Exception):
    """A setting of the command line cannot be parsed; the message is one line without the ``nacre: error:``."""


# ---------------------------------------------------------------------- doc comments
@dataclass(frozen=True)
class FieldDoc:
    """What the source of a config class says about one of its fields."""

    #: the ``#:`` comment lines right above the field (and a ``#:`` comment after it on its line), joined
    text: str = ""
    #: the heading of the field's block: the plain ``#`` comment above it, up to its first ``:`` or ``(``
    group: str = "settings"
    #: the rest of that heading, if it says more than a reference
    group_note: str = ""


def field_docs(config_cls: type) -> dict[str, FieldDoc]:
    """The doc comment and group of every field of ``config_cls``, read from the source of the class and its bases
    (a field redefined in a subclass takes the subclass's comment). A field without a ``#:`` comment has empty
    ``text``; a class whose source is unavailable gives no entries."""
    docs: dict[str, FieldDoc] = {}
    for klass in reversed(config_cls.__mro__):
        if "__annotations__" in vars(klass):
            docs.update(_class_docs(klass))
    names = {f.name for f in dataclasses.fields(config_cls)}
    return {name: doc for name, doc in docs.items() if name in names}


@functools.cache
def _class_docs(klass: type) -> dict[str, FieldDoc]:
    try:
        lines, _ = inspect.getsourcelines(klass)
        source = textwrap.dedent("".join(lines))
        node = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef))
        comments = {tok.start[0]: (tok.string, not tok.line[: tok.start[1]].strip())
                    for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                    if tok.type == tokenize.COMMENT}  # fmt: skip
    except (OSError, TypeError, SyntaxError, StopIteration, tokenize.TokenError):
        return {}
    docs: dict[str, FieldDoc] = {}
    heading = "settings"
    previous_end = node.lineno
    for stmt in node.body:
        doc: list[str] = []
        block: list[str] = []  # the plain comment lines of the current block
        for line in range(previous_end + 1, stmt.lineno):
            text, own_line = comments.get(line, ("", False))
            if not own_line:  # a blank line ends a doc comment and a heading block
                doc, block = [], []
            elif text.startswith("#:"):
                doc.append(text[2:].strip())
            else:
                doc = []
                block.append(text[1:].strip())
                heading = " ".join(block)
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            trailing, own_line = comments.get(stmt.end_lineno or stmt.lineno, ("", True))
            if not own_line and trailing.startswith("#:"):
                doc.append(trailing[2:].strip())
            title, note = _split_heading(heading)
            docs[stmt.target.id] = FieldDoc(_plain(" ".join(doc)), title, note)
        previous_end = stmt.end_lineno or stmt.lineno
    return docs


def _split_heading(heading: str) -> tuple[str, str]:
    """``"losses (the PEARL reference losses)"`` -> ``("losses", "the PEARL reference losses")``; ``"networks: plain
    MLPs ..."`` -> ``("networks", "plain MLPs ...")``."""
    cut = min((i for i in (heading.find(":"), heading.find(" (")) if i > 0), default=len(heading))
    title = heading[:cut].strip() or "settings"
    note = heading[cut:].strip(" :;,")
    if note.startswith("(") and note.endswith(")") and note.count("(") == 1:
        note = note[1:-1].strip()
    return title, _plain(note.strip(" :;,"))


def _plain(text: str) -> str:
    """Comment markup as plain text: ````paper```` -> ``paper``."""
    return text.replace("``", "")


# ---------------------------------------------------------------------- value parsing
def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


def parse_float(text: str) -> float:
    """A float; ``nan`` and ``inf`` parse (the config refuses them, naming the field)."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def parse_dict(text: str) -> dict[str, Any]:
    """``key=value[,key=value]`` (each value JSON if it parses as JSON, else a string), or a JSON object."""
    if text.strip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise ValueError(f"expected key=value[,key=value] or a JSON object, got {text!r}")
        return value
    out: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value[,key=value], got {text!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def format_dict(value: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in value.items())


@functools.cache
def _specs() -> dict[str, Any]:
    """tyro constructor specs: nacre's value syntax and messages for bool, int, float and dict fields."""
    from tyro.constructors import PrimitiveConstructorSpec

    def spec(metavar: str, parse: Any, is_instance: Any, show: Any = str) -> Any:
        return PrimitiveConstructorSpec(nargs=1, metavar=metavar, instance_from_str=lambda args: parse(args[0]),
                                        is_instance=is_instance, str_from_instance=lambda v: [show(v)])  # fmt: skip

    return {
        "bool": spec("{true,false}", parse_bool, lambda v: isinstance(v, bool), lambda v: "true" if v else "false"),
        "int": spec("INT", parse_int, lambda v: isinstance(v, int) and not isinstance(v, bool)),
        "float": spec("FLOAT", parse_float, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
        "dict": spec("KEY=VALUE,...", parse_dict, lambda v: isinstance(v, dict), lambda v: format_dict(v) or "{}"),
    }


def _field_types(config_cls: type) -> dict[str, Any]:
    """Resolved annotations of the fields (``Literal`` aliases included); a field whose annotation cannot be
    resolved is read as a string."""
    try:
        return typing.get_type_hints(config_cls)
    except Exception:  # noqa: BLE001 - one unresolvable annotation must not hide the others
        module = vars(sys.modules.get(config_cls.__module__, typing))
        hints: dict[str, Any] = {}
        for f in dataclasses.fields(config_cls):
            try:
                hints[f.name] = eval(f.type, module) if isinstance(f.type, str) else f.type  # noqa: S307
            except Exception:  # noqa: BLE001
                hints[f.name] = str
        return hints


def _annotation(hint: Any, help_text: str) -> Any:
    import tyro

    arg = tyro.conf.arg(help=help_text)
    specs = _specs()
    if hint is bool:
        return typing.Annotated[bool, tyro.conf.FlagConversionOff, specs["bool"], arg]
    if hint in (int, float):
        return typing.Annotated[hint, specs[hint.__name__], arg]
    if hint is dict or typing.get_origin(hint) is dict:
        return typing.Annotated[dict, specs["dict"], arg]
    return typing.Annotated[hint, arg]


# ---------------------------------------------------------------------- the mirror dataclass tyro parses
@dataclass(frozen=True)
class _Mirror:
    """A dataclass per group of settings and one holding the groups (the class tyro builds the parser from)."""

    root: type
    #: (attribute of the root, the group's class, field names in order)
    groups: tuple[tuple[str, type, tuple[str, ...]], ...]

    def instance(self, values: Mapping[str, Any]) -> Any:
        return self.root(**{attr: cls(**{n: values[n] for n in names}) for attr, cls, names in self.groups})

    def values(self, instance: Any) -> dict[str, Any]:
        return {n: getattr(getattr(instance, attr), n) for attr, _, names in self.groups for n in names}

    def flags(self) -> list[str]:
        return ["--" + n.replace("_", "-") for _, _, names in self.groups for n in names]


def setting_fields(config_cls: type) -> list[str]:
    """The config fields that are flags (every field but the task distribution)."""
    return [f.name for f in dataclasses.fields(config_cls) if f.name not in POSITIONAL_FIELDS]


def _mirror(config_cls: type, extra_groups: Sequence[tuple[str, str, list[tuple[str, Any]]]] = (),
            only: frozenset[str] | None = None) -> _Mirror:  # fmt: skip
    """The mirror of ``config_cls`` (its fields ``only``, if given), with ``extra_groups`` (title, note, fields)."""
    import tyro

    docs = field_docs(config_cls)
    hints = _field_types(config_cls)
    run_only = getattr(config_cls, "run_only_fields", frozenset())
    grouped: dict[str, tuple[str, list[tuple[str, Any]]]] = {}
    for name in setting_fields(config_cls):
        if only is not None and name not in only:
            continue
        doc = docs.get(name, FieldDoc())
        text = doc.text + (" [changeable on --resume]" if name in run_only else "")
        grouped.setdefault(doc.group, (doc.group_note, []))[1].append((name, _annotation(hints.get(name, str), text)))
    groups, root_fields = [], []
    for i, (title, (note, members)) in enumerate([*grouped.items(), *((t, (n, m)) for t, n, m in extra_groups)]):
        attr = f"group_{i}"
        cls = dataclasses.make_dataclass(re.sub(r"\W+", "_", title).strip("_") or attr, members, frozen=True)
        cls.__doc__ = ""
        root_fields.append((attr, typing.Annotated[cls, tyro.conf.OmitArgPrefixes,
                                                   tyro.conf.arg(name=title, help=note or None)]))  # fmt: skip
        groups.append((attr, cls, tuple(name for name, _ in members)))
    root = dataclasses.make_dataclass(f"{config_cls.__name__}Settings", root_fields, frozen=True)
    root.__doc__ = ""
    return _Mirror(root, tuple(groups))


def _field_defaults(config_cls: type) -> dict[str, Any]:
    """The dataclass defaults, without constructing (and so validating) a config."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


# ---------------------------------------------------------------------- tyro errors as one line
def _flag_of(argument: Any) -> str | None:
    names = getattr(getattr(argument, "lowered", None), "name_or_flags", None) or ()
    return next((n for n in names if isinstance(n, str) and n.startswith("--")), None)


def _event_message(event: Any, flags: Sequence[str]) -> str | None:
    """One line for a tyro parse-error event, or ``None`` for a kind this does not know (tyro's text is used)."""
    kind = type(event).__name__
    flag = _flag_of(getattr(event, "argument", None))
    where = f"argument {flag}: " if flag else ""
    if kind == "InstantiationFailure":
        return where + str(event.message).splitlines()[0]
    if kind == "InvalidChoice":
        return f"{where}invalid choice {event.value!r} (choose from {', '.join(map(str, event.choices))})"
    if kind == "BadValue":
        if event.offending_value is None:
            return f"{where}expected a value"
        return f"{where}unexpected value {event.offending_value!r}"
    if kind == "UnrecognizedArgs":
        return _unrecognized(list(event.tokens), flags)
    return None


def _unrecognized(tokens: Sequence[str], flags: Sequence[str]) -> str:
    message = f"unrecognized arguments: {' '.join(tokens)}"
    for token in tokens:
        close = difflib.get_close_matches(token.split("=", 1)[0], flags, n=1) if token.startswith("--") else []
        if close:
            return f"{message} (did you mean {close[0]}?)"
    return message


class _Rejected(Exception):
    pass


@contextlib.contextmanager
def _one_line_errors(flags: Sequence[str]) -> Iterator[None]:
    """Turn tyro's parse errors into :class:`SettingsError` (one line). tyro's hook for them is young
    (``tyro._errors``, since 1.0.14, marked experimental); without it, the first line of tyro's message is used."""
    try:
        from tyro._errors import on_parse_error
    except ImportError:  # pragma: no cover - other tyro versions
        on_parse_error = None

    def hook(event: Any) -> None:
        message = _event_message(event, flags)
        if message is not None:
            raise _Rejected(message)

    captured = io.StringIO()
    hooked = on_parse_error(hook) if on_parse_error is not None else contextlib.nullcontext()
    try:
        with contextlib.redirect_stderr(captured), hooked:
            yield
    except _Rejected as exc:
        raise SettingsError(str(exc)) from None
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        raise SettingsError(_first_box_line(captured.getvalue())) from None


def _first_box_line(text: str) -> str:
    """The first line of the message in tyro's box (``│ Error parsing --seed: ... │`` -> ``argument --seed: ...``)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("│", "|")):
            line = line.strip("│| ")
            if line and not set(line) <= set("─- "):
                return re.sub(r"^Error parsing (--[\w-]+):", r"argument \1:", line)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "cannot parse the settings"


# ---------------------------------------------------------------------- parsing settings
def config_overrides(config_cls: type, words: Sequence[str]) -> dict[str, Any]:
    """The settings given in ``words`` (``["--meta-batch", "8", ...]``) as ``{field: value}``, typed as the config
    declares; only fields named in ``words`` appear. Raises :class:`SettingsError` for a malformed word, an
    unknown flag or a bad value."""
    import tyro

    if not words:
        return {}
    mirror = _mirror(config_cls)
    with _one_line_errors(mirror.flags()):
        parsed = tyro.cli(mirror.root, args=list(words), prog="nacre train", default=mirror.instance(
            _field_defaults(config_cls)), add_help=False)  # fmt: skip
    values = mirror.values(parsed)
    return {name: values[name] for name in setting_names(words) if name in values}


def setting_names(words: Sequence[str]) -> list[str]:
    """Field names of the flags in ``words``, in order, each once (``--meta-batch=8`` -> ``meta_batch``)."""
    names: list[str] = []
    for word in words:
        if word.startswith("--") and len(word) > 2:
            name = word[2:].split("=", 1)[0].replace("-", "_")
            if name not in names:
                names.append(name)
    return names


def all_setting_names() -> dict[str, str]:
    """field name -> label of the first registered algorithm that has it (imports every config class; only for
    messages about flags the chosen algorithm does not have)."""
    from nacre.algos.registry import ALGORITHMS

    out: dict[str, str] = {}
    for algorithm in ALGORITHMS:
        try:
            config_cls = config_class(algorithm)
        except Exception:  # noqa: BLE001 - an algorithm that does not import has no flags to suggest
            continue
        for name in setting_fields(config_cls):
            out.setdefault(name, getattr(config_cls, "label", algorithm))
    return out


# ---------------------------------------------------------------------- step 1: what is not a setting
@dataclass
class TrainCommand:
    """A ``nacre train`` command line, read up to the algorithm's settings."""

    algorithm: str | None = None
    distribution: str | None = None
    preset: str = "fast"
    run_dir: Path | None = None
    resume: Path | None = None
    iterations: int | None = None
    no_progress: bool = False
    no_tensorboard: bool = False
    help: bool = False
    #: the setting words (``--meta-batch 8 --seed=1``), in order
    settings: list[str] = dataclasses.field(default_factory=list)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"nacre: error: {message} (see nacre train --help)\n")


def _command_parser() -> _Parser:
    parser = _Parser(prog="nacre train", add_help=False, usage=USAGE,
                     description="Meta-train an agent, or continue a stopped run with --resume.",
                     epilog="Every field of the algorithm's config is a flag (--meta-batch 8, --kl-lambda 0.5, "
                            "--use-information-bottleneck false, --env-kwargs goal_radius=0.8); its default is the "
                            "preset's value. nacre train ALGORITHM --help lists the algorithm's settings and their "
                            "meaning; nacre train ALGORITHM DISTRIBUTION [--preset NAME] --help shows the preset's "
                            "values.")  # fmt: skip
    parser.add_argument("algorithm", nargs="?", metavar="ALGORITHM", help=f"one of: {', '.join(_algorithms())}")
    parser.add_argument(
        "distribution",
        nargs="?",
        metavar="DISTRIBUTION",
        help="task distribution id, e.g. sparse-point-robot (nacre list)",
    )
    run = parser.add_argument_group("run options (not stored in the config)")
    for flags, kwargs in RUN_OPTIONS:
        run.add_argument(*flags, **kwargs)
    return parser


USAGE = "nacre train ALGORITHM DISTRIBUTION [--preset NAME] [--SETTING VALUE ...] | nacre train --resume RUN_DIR"
#: the options of ``nacre train`` besides the settings (argparse arguments; also listed in each algorithm's help)
RUN_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (
        ("--preset",),
        dict(default="fast", metavar="NAME", help="the algorithm's preset the settings start from (default: fast)"),
    ),
    (
        ("--run-dir",),
        dict(
            type=Path,
            default=None,
            metavar="DIR",
            help="where to write the run (default: runs/ALGORITHM-DISTRIBUTION-sSEED-TIME)",
        ),
    ),
    (
        ("--resume",),
        dict(
            type=Path,
            default=None,
            metavar="RUN_DIR",
            help="continue a stopped run (no ALGORITHM or DISTRIBUTION; only settings marked "
            "changeable on --resume may be given)",
        ),
    ),
    (("--iterations",), dict(type=int, default=None, metavar="N", help="stop after N more iterations")),
    (("--no-progress",), dict(action="store_true", help="hide the progress bar")),
    (("--no-tensorboard",), dict(action="store_true", help="do not write TensorBoard events")),
    (("-h", "--help"), dict(action="store_true", help="show this help (with ALGORITHM: the algorithm's settings)")),
]


def _algorithms() -> list[str]:
    from nacre.algos.registry import ALGORITHMS

    return list(ALGORITHMS)


def _split(argv: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """(options of ``nacre train``, positional words, setting words). A setting word ``--name`` takes the next
    word as its value unless that starts with ``--``; words after ALGORITHM and DISTRIBUTION are setting values
    too (a setting taking several)."""
    options: list[str] = []
    positional: list[str] = []
    settings: list[str] = []
    words = list(argv)
    resume = any(w == "--resume" or w.startswith("--resume=") for w in words)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        name = word.split("=", 1)[0]
        if name in _VALUE_OPTIONS or name in _SWITCHES:
            options.append(word)
            if name in _VALUE_OPTIONS and "=" not in word and i < len(words):
                options.append(words[i])
                i += 1
        elif word.startswith("--") and len(word) > 2:
            settings.append(word)
            if "=" not in word and i < len(words) and not words[i].startswith("--"):
                settings.append(words[i])
                i += 1
        elif word == "--":
            positional.extend(words[i:])
            break
        elif settings and len(positional) >= (0 if resume else 2):
            settings.append(word)
        else:
            positional.append(word)
    return options, positional, settings


def parse_command(argv: Sequence[str]) -> TrainCommand:
    """Read ``nacre train`` words up to the settings; a malformed option exits with one line (status 2)."""
    options, positional, settings = _split(argv)
    parser = _command_parser()
    ns = parser.parse_args([*options, *positional])
    if ns.algorithm is not None and ns.algorithm not in _algorithms():
        parser.error(f"argument ALGORITHM: invalid choice: {ns.algorithm!r} (choose from {', '.join(_algorithms())})")
    return TrainCommand(algorithm=ns.algorithm, distribution=ns.distribution, preset=ns.preset, run_dir=ns.run_dir,
                        resume=ns.resume, iterations=ns.iterations, no_progress=ns.no_progress,
                        no_tensorboard=ns.no_tensorboard, help=ns.help, settings=settings)  # fmt: skip


# ---------------------------------------------------------------------- help
def print_help(command: TrainCommand, defaults: Any | None = None, config_cls: type | None = None,
               prog: str = "nacre train", note: str = "") -> int:  # fmt: skip
    """Print the help of ``nacre train`` (no ``config_cls``) or of one algorithm's settings, with ``defaults`` (a
    config) as the defaults shown, else the dataclass defaults. Returns 0."""
    if config_cls is None:
        _command_parser().print_help()
        return 0
    import tyro

    values = _field_defaults(config_cls) if defaults is None else defaults.to_dict()
    presets = preset_names(command.algorithm) if command.algorithm else None
    run_group = ("command", "how the run is started; not stored in its config", [
        ("preset", _help_only("{" + ",".join(presets) + "}" if presets else "NAME",
                              "the preset the settings start from", f"(default: {command.preset})")),
        ("run_dir", _help_only("DIR", "where to write the run", "(default: runs/ALGORITHM-DISTRIBUTION-sSEED-TIME)")),
        ("resume", _help_only("RUN_DIR", "continue a stopped run (then give no ALGORITHM or DISTRIBUTION)", "")),
        ("iterations", _help_only("N", "stop after N more iterations", "(default: to num_iterations)")),
        ("no_progress", _help_only("", "hide the progress bar", "", switch=True)),
        ("no_tensorboard", _help_only("", "do not write TensorBoard events", "", switch=True)),
    ])  # fmt: skip
    fields = frozenset(config_cls.run_only_fields if command.resume else setting_fields(config_cls))
    mirror = _mirror(config_cls, [run_group], only=fields - unused_fields(config_cls, command.algorithm))
    values.update(preset="", run_dir="", resume="", iterations="", no_progress=False, no_tensorboard=False)
    doc = inspect.getdoc(config_cls) or ""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ")
    description = "\n\n".join(p for p in (summary, note, f"Presets: {', '.join(presets)}." if presets else "") if p)
    try:
        tyro.cli(mirror.root, args=["--help"], prog=prog, description=description,
                 default=mirror.instance(values))  # fmt: skip
    except SystemExit:
        pass
    except BrokenPipeError:  # nacre train pearl --help | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _help_only(metavar: str, text: str, hint: str, switch: bool = False) -> Any:
    """An option of ``nacre train`` shown in an algorithm's help (argparse parses it, never tyro)."""
    import tyro
    from tyro.constructors import PrimitiveConstructorSpec

    arg = tyro.conf.arg(help=text, help_behavior_hint=hint)
    if switch:
        return typing.Annotated[bool, tyro.conf.FlagCreatePairsOff, arg]
    spec = PrimitiveConstructorSpec(
        nargs=1,
        metavar=metavar,
        instance_from_str=lambda args: args[0],
        is_instance=lambda v: isinstance(v, str),
        str_from_instance=lambda v: [v],
    )
    return typing.Annotated[str, spec, arg]


def help_note(command: TrainCommand, label: str) -> str:
    if command.resume is not None:
        return f"The settings a resumed run may change; defaults shown: those of the run in {command.resume}."
    if command.distribution is not None:
        return f"Defaults shown: the {command.preset!r} preset for {command.distribution}."
    return (
        f"Defaults shown: the {label} config defaults; give a task distribution (nacre train {command.algorithm} "
        f"DISTRIBUTION [--preset NAME] --help) to see a preset's values."
    )


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# ---------------------------------------------------------------------- what nacre.cli's train command calls
def usage_line() -> str:
    return (
        f"usage: nacre train {'|'.join(_algorithms())} DISTRIBUTION [--preset NAME] [--SETTING VALUE ...] "
        "(or --resume RUN_DIR; nacre train ALGORITHM --help lists the settings)"
    )


def read_settings(config_cls: type, words: Sequence[str], prog: str) -> dict[str, Any]:
    """:func:`config_overrides`, exiting with one line ``nacre: error: ...`` (status 2) as argparse does."""
    try:
        return config_overrides(config_cls, words)
    except SettingsError as exc:
        print(f"nacre: error: {exc} (see {prog} --help)", file=sys.stderr)
        raise SystemExit(2) from None


def unused_fields(config_cls: type, algorithm: str | None) -> frozenset[str]:
    """Fields of ``config_cls`` that ``algorithm`` never reads (a config shared by two algorithms, like PEARL's
    and offline PEARL's, declares them in ``unused_fields``)."""
    return getattr(config_cls, "unused_fields", {}).get(algorithm, frozenset())


def algorithm_label(config_cls: type, algorithm: str | None) -> str:
    label = getattr(config_cls, "label", config_cls.__name__)
    return f"offline {label}" if algorithm is not None and algorithm.startswith("offline-") else label


def foreign_settings(config_cls: type, words: Sequence[str], algorithm: str | None = None) -> str | None:
    """The message for flags of other algorithms' configs (``--inner-steps: not a PEARL setting``) or of fields
    ``algorithm`` never reads (``--num-steps-prior: not an offline PEARL setting``), else ``None`` (a flag no
    algorithm has is left to the parser: unrecognized, with a suggestion)."""
    given = setting_names(words)
    if POSITIONAL_FIELDS & set(given):
        return f"{flag(sorted(POSITIONAL_FIELDS & set(given))[0])}: the task distribution is the DISTRIBUTION argument"
    own = set(setting_fields(config_cls)) - unused_fields(config_cls, algorithm)
    foreign = [name for name in given if name not in own]
    if foreign:
        known = all_setting_names()
        foreign = sorted(name for name in foreign if name in known)
    if not foreign:
        return None
    label = algorithm_label(config_cls, algorithm)
    article = "an" if label[0].lower() in "aeiou" else "a"
    return f"{', '.join(map(flag, foreign))}: not {article} {label} setting"


def unchangeable_settings(words: Sequence[str], allowed: frozenset[str]) -> list[str]:
    """Settings in ``words`` a resumed run may not change (fields of any algorithm outside ``allowed``)."""
    bad = [name for name in setting_names(words) if name not in allowed]
    if bad:
        known = all_setting_names()
        bad = [name for name in bad if name in known]
    return sorted(bad)


def show_help(command: TrainCommand) -> int:
    """``nacre train [ALGORITHM [DISTRIBUTION]] [--preset NAME] --help`` and ``nacre train --resume RUN --help``:
    the settings of the algorithm with the preset's (or the run's) values as defaults."""
    if command.resume is not None:
        from nacre.training.loop import read_run_config

        algorithm, saved = read_run_config(command.resume)
        command = dataclasses.replace(command, algorithm=algorithm)  # its presets listed
        return print_help(command, saved, type(saved), prog=f"nacre train --resume {command.resume}",
                          note=help_note(command, saved.label))  # fmt: skip
    if command.algorithm is None:
        return print_help(command)
    config_cls = config_class(command.algorithm)
    defaults = None
    if command.distribution is not None:
        from nacre.envs.registry import make_distribution

        make_distribution(command.distribution)  # an unknown id is named as such
        defaults = preset(command.algorithm, command.preset, command.distribution)
    prog = f"nacre train {command.algorithm} {command.distribution or 'DISTRIBUTION'}"
    return print_help(command, defaults, config_cls, prog=prog,
                      note=help_note(command, getattr(config_cls, "label", command.algorithm)))  # fmt: skip
