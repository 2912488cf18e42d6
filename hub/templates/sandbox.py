"""The Jinja sandbox whose work is bounded, not only watched (the API is ``rendering.py``).

The stock :class:`~jinja2.sandbox.SandboxedEnvironment` stops a template from reaching Python's
internals, but not from working forever or building a gigabyte string. Each rendering here gets a
:class:`Budget` that the sandbox spends as it goes:

- **steps**: every loop iteration and every call (a method, a macro, a recursive ``loop()``) costs one;
  past :data:`MAX_RENDER_STEPS`, or past the rendering's deadline, it ends. The deadline is looked at
  every :data:`DEADLINE_EVERY` steps only, and one filter call (``wordwrap`` of a long text, a sort of
  a big list) can take seconds without spending a step: this deadline gives a clear message for a
  loop that runs long, it does not guarantee the time. What does is that the hub renders in a worker
  process and kills it when the rendering takes longer (``workers.py``);
- **characters**: every value a template prints, concatenates (``~``, ``+``, ``*``), formats or gets
  from a string-building method or filter is charged; past :data:`MAX_WORK_CHARS` it ends;
- **before allocating**: ``ljust``/``center``/``rjust``/``zfill``/``expandtabs``, ``replace``,
  ``join``, ``translate``, ``format`` widths and ``%`` widths (``'%*d'|format``), ``indent``,
  ``wordwrap``, ``slice``, ``batch`` and ``tojson`` are sized first and refused when their result would
  exceed :data:`MAX_RENDERED_CHARS`;
- the output is streamed and stops at :data:`MAX_RENDERED_CHARS`.

Lists, dicts and sets cannot be changed in place (:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`),
so growth only comes from the charged operations. Every refusal is an :class:`InvalidArguments` naming the
field (``prompt`` or ``instructions``).
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
    modifies_known_mutable,
)
from jinja2.utils import Namespace, _PassArg, generate_lorem_ipsum
from markupsafe import Markup

MAX_RENDERED_CHARS = 2_000_000  # what one rendering may produce (a long transcript fits)
MAX_WORK_CHARS = 10 * MAX_RENDERED_CHARS  # characters one rendering may build along the way
MAX_RENDER_STEPS = 1_000_000  # loop iterations and calls of one rendering (about a second of pure looping)
MAX_INT_BITS = 100_000  # an integer a template computes (30,000 digits; printing stops at 4,300 anyway)
RENDER_TIMEOUT = 5.0  # seconds a rendering may take by default (the hub: GOOSUKE_RENDER_TIMEOUT)
DEADLINE_EVERY = 256  # steps between two looks at the clock
STREAM_BATCH = 64  # output chunks taken at once (each is charged already, so a batch is bounded)


class RenderLimit(Exception):
    """A rendering ran out of its budget; ``str(exc)`` says which."""


class Budget:
    """What one rendering may still spend."""

    __slots__ = ("chars", "deadline", "steps", "timeout")

    def __init__(self, timeout: float) -> None:
        self.steps = MAX_RENDER_STEPS
        self.chars = MAX_WORK_CHARS
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def step(self) -> None:
        self.steps -= 1
        if self.steps % DEADLINE_EVERY == 0:
            if self.steps <= 0:
                raise RenderLimit(f"it took more than {MAX_RENDER_STEPS} loop iterations and calls; simplify its loops")
            if time.monotonic() > self.deadline:
                raise RenderLimit(f"it took longer than {self.timeout:g} s; simplify its loops")

    def charge(self, chars: int) -> None:
        self.chars -= chars
        if self.chars < 0:
            raise RenderLimit(f"it built more than {MAX_WORK_CHARS} characters along the way")


_SIZED = frozenset({str, bytes, list, tuple, Markup})
_PLAIN = frozenset({str, int, float, bool, tuple, Markup, LoopContext, Namespace})  # nothing to mutate
_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("goosuke_render_budget", default=None)


def _charge(value: Any) -> Any:
    if type(value) in _SIZED or isinstance(value, str | bytes | list | tuple):
        budget = _BUDGET.get()
        if budget is not None:
            budget.charge(len(value))
    return value


def _refuse_over(size: int) -> None:
    if size > MAX_RENDERED_CHARS:
        raise RenderLimit(f"the rendering would exceed {MAX_RENDERED_CHARS} characters")


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else default


# -- sizing string-building operations before they run -----------------------------------------------

_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})
_SPEC_NUMBER = re.compile(r"\d+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _method_size(obj: str | bytes, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """The most characters ``obj.name(*args, **kwargs)`` can produce (0: not a string-building method)."""
    first = args[0] if args else None
    if name in _WIDTH_METHODS:
        return max(len(obj), _int(kwargs.get("width", first)))
    if name == "expandtabs":
        tab = obj.count("\t") if isinstance(obj, str) else obj.count(b"\t")
        return len(obj) + tab * max(0, _int(kwargs.get("tabsize", first), 8))
    if name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str | bytes) and isinstance(new, str | bytes):
            count = obj.count(old) if type(old) is type(obj) else 0  # type: ignore[arg-type]
            if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                count = min(count, args[2])
            return len(obj) + count * max(0, len(new) - len(old))
    if name == "translate" and isinstance(first, Mapping):
        longest = max((len(v) for v in first.values() if isinstance(v, str | bytes)), default=1)
        return len(obj) * max(1, longest)
    return 0


def _joined_size(separator: str, parts: list[Any]) -> int:
    return sum(len(p) if isinstance(p, str) else len(str(p)) for p in parts) + len(separator) * max(0, len(parts) - 1)


def _check_percent(fmt: str, values: Any) -> int:
    """Refuse ``fmt % values`` when a width or precision (given, or taken by ``*``) is too large (0: fine)."""
    positional = list(values) if isinstance(values, tuple) else [values]
    index = 0
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.group(1), match.group(2):
            if part == "*":
                taken = positional[index] if index < len(positional) else 0
                index += 1
                _refuse_over(abs(_int(taken)))
            elif part:
                _refuse_over(int(part))
        if match.group(3) != "%":
            index += 1
    return 0


class _BoundedFormatterMixin(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        for number in _SPEC_NUMBER.findall(format_spec):
            _refuse_over(int(number) if len(number) < 10 else MAX_RENDERED_CHARS + 1)
        return _charge(super().format_field(value, format_spec))


class _BoundedFormatter(_BoundedFormatterMixin, SandboxedFormatter):
    pass


class _BoundedEscapeFormatter(_BoundedFormatterMixin, SandboxedEscapeFormatter):
    pass


# -- filters: sized before, charged after -------------------------------------------------------------


def _lines(text: Any) -> int:
    return str(text).count("\n") + 1


_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "center": lambda value, width=80: max(len(str(value)), _int(width)),
    "indent": lambda s, width=4, *_, **__: (
        len(str(s)) + _lines(s) * (len(width) if isinstance(width, str) else _int(width))
    ),
    "replace": lambda s, old, new, count=None: _method_size(str(s), "replace", (str(old), str(new), count), {}),
    "wordwrap": lambda s, width=79, break_long_words=True, wrapstring=None, *_, **__: (
        len(str(s)) * (1 + len(wrapstring or "\n"))
    ),
    "slice": lambda value, slices, fill_with=None: _int(slices),
    "batch": lambda value, linecount, fill_with=None: _int(linecount) if fill_with is not None else 0,
    "tojson": lambda value, indent=None: _int(indent),
    "format": lambda value, *args, **kwargs: _check_percent(str(value), kwargs or args),
}


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    size = _FILTER_SIZES.get(name)
    skip = 1 if _PassArg.from_obj(original) is not None else 0

    @functools.wraps(original)  # keeps jinja's pass_context/pass_eval_ctx marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.step()
        if size is not None:
            _refuse_over(size(*args[skip:], **kwargs))
        if name == "join" and len(args) > skip:  # materialise once: its size is known before joining
            parts = list(args[skip])
            separator = args[skip + 1] if len(args) > skip + 1 else kwargs.get("d", "")
            if kwargs.get("attribute") is None and len(args) <= skip + 2:
                _refuse_over(_joined_size(str(separator), parts))
            args = (*args[:skip], parts, *args[skip + 1 :])
        return _charge(original(*args, **kwargs))

    return bounded


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if not 0 <= n <= 100 or not 0 <= min <= max <= 1000:
        raise RenderLimit("lipsum takes at most 100 paragraphs of at most 1000 words")
    return str(generate_lorem_ipsum(n, html, min, max))


# -- the sandbox ----------------------------------------------------------------------------------


class _Generator(CodeGenerator):
    """Jinja's code generator, with every loop's iterable metered and every ``~`` sized."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        literal = sum(len(d.data) for d in node.find_all(nodes.TemplateData))
        metered = nodes.Call(nodes.EnvironmentAttribute("metered"), [node.iter, nodes.Const(literal)], [], None, None)
        node.iter = metered.set_lineno(node.iter.lineno or node.lineno or 1)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every operation that can grow or loop metered by the rendering's budget."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_charge)
        self.globals["lipsum"] = _lipsum
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    @staticmethod
    def metered(iterable: Iterable[Any], literal_chars: int) -> Iterator[Any]:
        budget = _BUDGET.get()
        if budget is None:
            yield from iterable
            return
        for item in iterable:
            budget.step()
            budget.charge(literal_chars)
            yield item

    @staticmethod
    def bounded_concat(parts: tuple[Any, ...]) -> str:
        texts = [p if isinstance(p, str) else str(p) for p in parts]
        _refuse_over(sum(map(len, texts)))
        return _charge("".join(texts))  # type: ignore[no-any-return]

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # ImmutableSandboxedEnvironment's check, with a fast way past the types that have nothing to mutate.
        if not SandboxedEnvironment.is_safe_attribute(self, obj, attr, value):
            return False
        return type(obj) in _PLAIN or not modifies_known_mutable(obj, attr)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 1000:
            raise SecurityError("exponent too large")
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and ints and left.bit_length() * max(right, 0) > MAX_INT_BITS:
            raise SecurityError("power too large")
        if operator == "*":
            if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SecurityError("product too large")
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_RENDERED_CHARS:
                    raise SecurityError("repetition too large")
        if operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _refuse_over(len(left) + len(right))
        if operator == "%" and isinstance(left, str):
            _check_percent(left, right)
        return _charge(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__
        formatter: SandboxedFormatter
        if isinstance(text, Markup):
            formatter = _BoundedEscapeFormatter(self, escape=text.escape)
        else:
            formatter = _BoundedFormatter(self)
        is_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one mapping")
                return _charge(type(text)(formatter.vformat(text, (), args[0])))  # type: ignore[no-any-return]
            return _charge(type(text)(formatter.vformat(text, args, kwargs)))  # type: ignore[no-any-return]

        return functools.update_wrapper(bounded, value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.step()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):
            name = getattr(__obj, "__name__", "")
            if name == "join" and args:
                parts = list(args[0])
                _refuse_over(_joined_size(str(owner), parts) if isinstance(owner, str) else 0)
                args = (parts, *args[1:])
            else:
                _refuse_over(_method_size(owner, name, args, kwargs))
        elif isinstance(owner, int) and getattr(__obj, "__name__", "") == "to_bytes":
            _refuse_over(_int(args[0] if args else kwargs.get("length"), 1))
        return _charge(super().call(__context, __obj, *args, **kwargs))


SANDBOX = Sandbox()


def stream(template: Any, values: Mapping[str, Any], timeout: float) -> str:
    """Render a compiled template with a fresh :class:`Budget`, stopping at :data:`MAX_RENDERED_CHARS`."""
    chunks: list[str] = []
    size = 0
    token = _BUDGET.set(Budget(timeout))
    try:
        generator = template.generate(**values)
        while batch := list(itertools.islice(generator, STREAM_BATCH)):
            size += sum(map(len, batch))
            if size > MAX_RENDERED_CHARS:
                raise RenderLimit(f"the rendering would exceed {MAX_RENDERED_CHARS} characters")
            chunks += batch
    finally:
        _BUDGET.reset(token)
    return "".join(chunks)
