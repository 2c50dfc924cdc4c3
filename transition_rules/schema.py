"""Schema of a language's rule file (``transition_rules/rules/<lang>.toml``).

A rule file is data: type templates, literal templates, string escaping, the prelude
(the language's ``crux_eq``/``crux_show``/``crux_case`` helpers as code text), the
harness and published-item templates, the signature stub, reserved words. A file may
``extends`` another (``_base.toml`` holds what most languages share); tables merge
key by key, the child winning.

Template placeholders use ``str.format`` syntax, so literal braces are doubled.
"""

from __future__ import annotations

import builtins
import re
import warnings
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

# field names below shadow builtins (they name the type language's types)
_S = builtins.str
_I = builtins.int
_L = builtins.list


def _regex_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a (multi-line) regular expression; None when it is one."""
    try:
        re.compile(pattern, re.M)
    except re.error as e:
        return str(e)
    return None


def _checked_regex(pattern: str) -> str:
    if why := _regex_error(pattern):
        raise ValueError(f"not a regular expression: {why}")
    return pattern


# a field holding a (multi-line) regular expression, checked when its file is loaded
_Regex = Annotated[_S, AfterValidator(_checked_regex)]
# `dict` as a field name shadows pydantic's deprecated BaseModel.dict(); that is intended
warnings.filterwarnings("ignore", message='Field name "dict"', category=UserWarning)


# the kinds of type node (transition_rules/engine.py _kind)
TYPE_KINDS = frozenset(
    {"int", "float", "bool", "str", "none", "list", "tuple", "dict", "set", "optional", "union"}
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TypeRules(_Strict):
    """Target type text for each type-language node.

    Placeholders: ``{elem}`` (list/set), ``{key}``/``{value}`` (dict), ``{inner}``
    (Optional), ``{elems}`` (tuple members, each through ``tuple_member``, joined by
    ``tuple_sep``), ``{n}`` and ``{name}`` (tuple arity and its name), ``{arms}`` (Union).
    """

    int: _S
    float: _S
    bool: _S
    str: _S
    none: _S
    list: _S
    tuple: _S  # {elems}, {n} (arity), {name} (from tuple_names by arity)
    tuple_sep: _S = ", "
    tuple_one: _S | None = None  # a one-member tuple where `tuple` would collapse to T
    tuple_member: _S = "{elem}"  # each member in {elems}: {elem}, {i} (index from 0)
    tuple_names: _L[_S] = []  # per-arity type names (javatuples: Unit, Pair, Triplet ...)
    dict: _S  # type: ignore[assignment]
    set: _S
    optional: _S
    union: _S | None = None


class LiteralRules(_Strict):
    """How a value of each type is written in source.

    Container templates get ``{items}`` (rendered members joined by ``sep``), ``{n}``
    (member count), ``{type}`` (the container's own target type) and ``{elem_type}``,
    ``{key_type}``, ``{value_type}``, ``{elem_types}`` where they apply. ``*_empty``
    variants, when given, are used for empty containers (typed empties).
    """

    int: _S = "{v}"
    int_bits: _I = 64  # values outside the signed range are reported, not wrapped
    # the smallest integer of that range, where the language can't write it as a minus
    # sign and a literal (D, PHP and Lua read 9223372036854775808 first, and it overflows)
    int_min: _S | None = None
    float: _S = "{v}"
    float_nan: _S
    float_inf: _S
    float_neg_inf: _S
    true: _S
    false: _S
    none: _S
    str: _S = '"{v}"'
    sep: _S = ", "
    list: _S
    list_empty: _S | None = None
    # a list of int, float, bool or str, empty or not (R's atomic vector `c(...)`)
    list_of_scalars: _S | None = None
    tuple: _S
    tuple_one: _S | None = None
    tuple_empty: _S | None = None
    dict: _S  # type: ignore[assignment]
    dict_empty: _S | None = None
    dict_item: _S
    set: _S
    set_empty: _S | None = None
    optional_some: _S = "{v}"  # {v} the inner literal, {inner_type}
    optional_none: _S | None = None  # defaults to `none`; gets {inner_type}
    union_arm: _S = "{v}"  # {v}, {arm_type}, {arm_index}, {type}
    negative_wrap: _S = "{v}"  # e.g. "({v})" where a bare minus misparses
    negative_key: _S = "{v}"  # a negative dict key, e.g. "[{v}]" in a JS object literal


class StringRules(_Strict):
    """String escaping as data: explicit escapes, then control / non-ASCII formats.

    ``control`` and ``non_ascii`` are ``str.format`` patterns over ``c`` (the code point,
    an int); ``non_ascii = "raw"`` writes UTF-8 as is; ``non_bmp = "utf16"`` writes
    code points above U+FFFF as a surrogate pair through the ``non_ascii`` pattern.
    """

    escapes: dict[_S, _S]
    control: _S
    non_ascii: _S = "raw"
    non_bmp: _S = "same"  # "same" | "utf16" | a pattern
    # characters the language's strings can't hold (e.g. NUL in R and bash): a value
    # containing one is reported unsupported for the language, not mangled
    unrepresentable: list[_S] = []


class EqualityRules(_Strict):
    """The deep-equality each type gets (implemented by the prelude's ``crux_eq``)."""

    float: _S = "tolerance"  # rel 1e-6, abs 1e-9
    set: _S = "unordered"
    dict: _S = "unordered"  # type: ignore[assignment]
    note: _S = ""


class HarnessRules(_Strict):
    """The verdict-protocol harness (docs/architecture.md).

    ``program`` gets ``{prelude}``, ``{function}``, ``{body}``, ``{hoisted}`` (the lines
    of the function that ``hoist`` matches, each after a line break); ``case`` gets ``{i}``,
    ``{call}``, ``{expected}``, ``{result_type}``; ``value`` (round-trip) gets ``{i}``,
    ``{value}``, ``{type}``; ``call`` gets ``{entry}``, ``{args}``.
    """

    program: _S
    case: _S
    value: _S
    call: _S = "{entry}({args})"
    arg: _S = "{v}"  # one argument of the call: {v} its literal, {name} the parameter's
    args_sep: _S = ", "
    indent: _S = ""  # prefix for each case/value line
    # lines moved from the function text to {hoisted}: the imports an item's file carries
    # with its function (transition_rules/parsing.py carried_imports), where the language
    # allows them only at the top of a file (Java, C#); a batch applies it to every item,
    # whole published programs included
    hoist: _Regex | None = None


class CloseTest(_Strict):
    """A float result's test: the natural test's shape around the smallest helper that
    compares within our tolerance (rel 1e-6 / abs 1e-9, NaN equal to NaN, an infinity
    only to itself), named as the language's own code would name it."""

    harness: _S  # as NaturalTest.harness
    prelude: _S = ""  # the helper (in the code, before the test; never in a prompt)


class ContainerTest(_Strict):
    """The test of a result of one container kind that the natural test compares by
    reference (C#'s ``Equals`` on a List, a Dictionary, a HashSet): the natural test's
    shape around the language's own comparison of the members (LINQ's ``SequenceEqual``
    for a list, ``SetEquals`` for a set or a dict's pairs), where the members are of kinds
    it compares exactly."""

    of: _S  # the result's kind (list, set, dict, tuple)
    harness: _S  # as NaturalTest.harness
    prelude: _S = ""
    elems: _L[_S]  # the kinds the members may hold (dict: keys and values)

    @model_validator(mode="after")
    def _known_exact_kinds(self) -> ContainerTest:
        bad = sorted({self.of, *self.elems} - TYPE_KINDS) + ["float"] * ("float" in self.elems)
        if bad:
            raise ValueError(f"container test for {self.of}: {bad} is not a kind compared "
                             "exactly")  # fmt: skip
        return self


class NaturalTest(_Strict):
    """The test as the language's own benchmarks write it (MultiPL-E's conventions, which
    CRUXEval-X follows): ``assert f(x) == y``, ``assert_eq!``, ``assert.deepStrictEqual``.
    Used for an item whose result type it compares exactly: every kind in the type is in
    ``exact`` (floats never are: their ``==`` is not our tolerance); other items keep the
    asserting harness with its deep-equality helper."""

    harness: _S  # {prelude}, {call}, {expected} as PublishedRules.harness; {result}: its type
    prelude: _S = ""  # what the natural test needs (an import), never a crux_ helper
    exact: _L[_S]  # type kinds (int, str, list, dict, optional ...) compared exactly
    # kinds it does not compare exactly but whose literals need no helper of ours: they
    # may stand in the parameters (a float; C#'s List, which Equals compares by reference)
    literal_only: _L[_S] = []
    # a regular expression: an item whose rendered expected value it matches keeps our
    # helper's test (shell: $(...) drops a str's trailing newlines, a natural = would not)
    helper_when: _Regex | None = None
    # the test of an item whose result is a float (its parameters as above)
    close: CloseTest | None = None
    # literal forms the natural test writes instead of ``[literals]``' (the language's own,
    # where our harness's go through a helper: D's ``crux_list!``); LiteralRules' fields
    literals: dict[_S, _S] = {}
    # kinds compared exactly in the result only, written there in ``result_literals``
    # (Java's dict: a HashMap's equals ignores order, as a result's test should, but an
    # argument needs our helper's literal, which keeps the insertion order a function
    # iterating it sees)
    result_only: _L[_S] = []
    result_literals: dict[_S, _S] = {}
    # the tests of results that ``harness`` compares by reference, one per container kind
    containers: _L[ContainerTest] = []

    @field_validator("exact", "literal_only", "result_only")
    @classmethod
    def _known_kinds(cls, v: _L[_S], info: ValidationInfo) -> _L[_S]:
        unknown = sorted(set(v) - TYPE_KINDS)
        if unknown:
            raise ValueError(f"unknown type kinds {unknown}; known: {sorted(TYPE_KINDS)}")
        if "float" in v and info.field_name in ("exact", "result_only"):
            raise ValueError("float cannot be exact: a natural == is not our float tolerance")
        return v

    @field_validator("literals", "result_literals")
    @classmethod
    def _known_literals(cls, v: dict[_S, _S]) -> dict[_S, _S]:
        known = set(LiteralRules.model_fields) - {"int_bits"}
        unknown = sorted(set(v) - known)
        if unknown:
            raise ValueError(f"unknown literal forms {unknown}; known: {sorted(known)}")
        return v

    @model_validator(mode="after")
    def _no_helper_of_ours(self) -> NaturalTest:
        texts = [self.harness, self.prelude, *self.literals.values(),
                 *self.result_literals.values()]  # fmt: skip
        for other in (self.close, *self.containers):
            if other is not None:
                texts += [other.harness, other.prelude]
        if any("crux_" in x or "crux-" in x for x in texts):
            raise ValueError("a natural test uses no helper of ours (crux_...): it is what "
                             "a published item shows")  # fmt: skip
        return self

    @field_validator("containers")
    @classmethod
    def _one_per_kind(cls, v: _L[ContainerTest]) -> _L[ContainerTest]:
        if len({c.of for c in v}) < len(v):
            raise ValueError("one container test per container kind")
        return v


class PublishedRules(_Strict):
    """CRUXEval-X's published item: function followed by an asserting harness.

    ``harness`` gets ``{prelude}``, ``{call}`` and ``{expected}``; ``call`` gets
    ``{entry}`` and ``{args}``. The masks replace the rendered call (input prediction)
    or the expected literal (output prediction) with ``????``.
    """

    harness: _S
    # the whole published code; {function} and {harness} (e.g. Java wraps both in a class),
    # {hoisted}: where the lines ``HarnessRules.hoist`` takes from the function go (imports)
    program: _S = "{function}\n\n{harness}"
    call: _S = "candidate({args})"
    prelude: _S = ""  # helpers the asserting harness needs (e.g. a deep-equality)
    natural: NaturalTest | None = None


class StubRules(_Strict):
    """The signature stub shown to the translator."""

    template: _S  # {entry}, {params}, {result}
    param: _S  # {name}, {type}
    param_sep: _S = ", "


class Identifiers(_Strict):
    reserved: list[_S] = []
    # a regular expression: names it matches can't be parameters either (Ruby reads a name
    # that starts with an upper-case letter as a constant), and are renamed the same way
    rename_matching: _Regex | None = None
    rename: _S = "{name}_"



class PublishedBatch(_Strict):
    """How a whole published program (an item's code, run by its exit status) becomes one
    item of a batch, so that an audit's published programs share a compile and a process.

    Only for a language whose batch runs the program as its ``published`` runtime variant
    would. ``entry``: a regex whose first group that matches names the program's entry
    point (``main``, ``Main``); without it the program's top-level code is the item
    (scripts). ``body`` gets ``{entry}``: the item's statement that runs the program.
    ``hoist``: text moved out of the program besides ``BatchRules.hoist`` and
    ``HarnessRules.hoist`` (e.g.
    ``#undef NDEBUG``). ``refuse``: programs it matches run alone; it replaces
    ``BatchRules.refuse`` (which guards our helpers' names, used by published code itself),
    unless ``batch_refuse`` says that pattern applies to whole programs too.

    A failure need not end the batch: ``wrap`` (around the program, ``{program}``;
    ``{entry}`` too) or ``body`` may catch what alone would end the program with a status
    (an assertion error: status 1) and write ``EXIT <status> <message>`` to the verdict
    file instead (``crux_line``; ``EXIT SIG<n>``: the signal that alone would end it); the
    engine reads that as the item's exit. Anything else that ends the process makes the
    batched engine re-run the item alone.
    """

    body: _S = ""
    wrap: _S = "{program}"
    wrap_indent: _S = ""  # prefix for each line of the program inside ``wrap`` (Python)
    entry: _Regex | None = None
    hoist: _Regex | None = None
    # [regex, replacement] pairs applied to the program: what the item declares itself
    # (Racket's `#lang racket`: the item is a `racket` module), or what its published
    # runtime variant does that a batch can't (D's `-unittest` runs its unittest block)
    replace: list[tuple[_S, _S]] = []
    # a program tree-sitter finds a syntax error in runs alone (it would fail the batch's
    # compile); off where the grammar misreads valid programs
    screen: bool = True
    # the item template for a whole program (``BatchRules.item``'s placeholders), where
    # the one for functions checks what a program that compiles alone never needs
    item: _S | None = None
    refuse: _Regex | None = None
    batch_refuse: bool = False  # BatchRules.refuse applies to whole programs as well
    # identifiers renamed in the program (tree-sitter: never in strings or comments), the
    # entry's name too: for a name its batch declares as well (Java's class ``Main``) or
    # that the language allows once per program (C#'s entry point ``Main``)
    rename: dict[_S, _S] = {}
    # named hooks (transition_rules/hooks.py) where data can't say it: ``item_hook``
    # (ITEM_HOOKS) rewrites the program as the batch's item hook does a function (Go's
    # package-level names get a suffix), after ``rename``; ``program_hook``
    # (PROGRAM_HOOKS) gives the program as the batch holds it, or why it runs alone
    item_hook: _S | None = None
    program_hook: _S | None = None

    @field_validator("replace")
    @classmethod
    def _patterns(cls, v: list[tuple[_S, _S]]) -> list[tuple[_S, _S]]:
        for pattern, _ in v:
            if why := _regex_error(pattern):
                raise ValueError(f"not a regular expression: {pattern!r}: {why}")
        return v

    @field_validator("rename")
    @classmethod
    def _identifiers(cls, v: dict[_S, _S]) -> dict[_S, _S]:
        bad = [x for pair in v.items() for x in pair if not x.isidentifier()]
        if bad:
            raise ValueError(f"not identifiers: {bad}")
        return v


class BatchRules(_Strict):
    """How many harness programs of the language share one source (runtimes/batched.py).

    ``program`` gets ``{prelude}``, ``{hoisted}`` (text moved out of the functions, see
    ``hoist``), ``{items}`` and ``{dispatch}``; its entry point reads the index of the
    first item to run from its *last* command-line argument, runs the ``dispatch`` lines
    (in order) and then writes ``DONE``. ``item`` gets ``{k}``, ``{function}``, ``{body}``
    and ``{entry}``: item k in its own namespace (module, class, package, closure), whose
    first line names ``crux_item_{k}``. ``dispatch`` gets ``{k}``: if k is at least the
    start index, write the marker line ``ITEM {k}`` to the verdict file, then run item k.
    """

    program: _S
    item: _S
    dispatch: _S
    dispatch_sep: _S = "\n"
    function_indent: _S = ""  # prefix for each line of the function inside an item
    body_indent: _S = ""  # prefix for each line of the (already indented) cases
    # a multi-line regex: text moved from each function to {hoisted}, each distinct text
    # once (besides HarnessRules.hoist, applied here too)
    hoist: _Regex | None = None
    # a regex: a function it matches can't share a source (it runs on its own)
    refuse: _Regex | None = None
    # named item hook (transition_rules/hooks.py ITEM_HOOKS) for languages whose
    # namespaces can't hold a function as written: it rewrites (function, entry, k)
    item_hook: _S | None = None
    max_items: _I = Field(150, ge=1)  # items per source
    # an item that ends the batch process may be judged by running it again by itself in
    # a fresh process of the same compiled batch (set CRUXFORGE_BATCH_ALONE there): only
    # where the dispatcher adds nothing that changes how a process ends; otherwise such an
    # item is run as its own program
    rerun_in_process: bool = False
    # whole published programs in a batch (cruxforge audit); None: they run one by one
    published: PublishedBatch | None = None


class Names(_Strict):
    """What the language is called where cruxforge meets other text: prompts and model
    answers (fence tags), CRUXEval-X's files and splits, MultiPL-E's language ids."""

    fence: _S  # the tag prompts ask for after ```
    fence_tags: list[_S] = []  # every tag a model may write for the language
    cruxeval_x: _S | None = None  # e.g. "Cpp", "CS", "JavaScript"
    multipl_e: _S | None = None  # e.g. "cpp", "cs", "js"


class Sentinel(_Strict):
    """The end-of-run check of an evaluated answer (cruxforge/evaluate/check.py): text
    that prints ``{nonce}`` once the published harness has finished normally. A language
    without one (its harness runs in a main function, or ends with its own exit call) is
    checked without it."""

    append: _S | None = None  # added after the code (runs after the harness, top level)
    prepend: _S | None = None  # put before the code (harnesses that run their tests at
    # exit: an exit hook registered first runs last)


class Dialect(_Strict):
    """Another benchmark's conventions for the language (``cruxeval-x``: MultiPL-E's, as
    CRUXEval-X uses them): rule sections that differ from ours, merged over them when
    an item written that way is read (``transition_rules.engine.rules_for``). The merged
    rules are validated like a rule file on load."""

    # the function's name there, {entry} standing for the seed's (C#'s "F")
    entry: _S = "{entry}"
    types: dict[_S, _S] = {}
    literals: dict[_S, _S | int] = {}  # int: int_bits
    harness: dict[_S, Any] = {}
    published: dict[_S, Any] = {}
    unsupported: dict[_S, _S] = {}
    # added after our harness's prelude (e.g. our helpers for the dialect's int type)
    prelude_append: _S = ""
    # a pattern on the function's declaration that marks an item written in the dialect
    # where its type names are ours (Swift's argument labels: `func f(text: String)`)
    detect: _Regex | None = None


class RuleFile(_Strict):
    lang: _S
    name: _S
    extends: _S | None = None
    names: Names
    sentinel: Sentinel | None = None
    types: TypeRules
    literals: LiteralRules
    strings: StringRules
    equality: EqualityRules = EqualityRules()
    prelude: _S = ""
    harness: HarnessRules
    published: PublishedRules
    stub: StubRules
    identifiers: Identifiers = Identifiers()
    # type kind -> reason the language can't carry it: kinds are
    # int float bool str none list tuple dict set optional union, plus
    # "none_result" (a function whose result type is None), "empty_tuple",
    # "nested_optional", "container_key" (a dict key / set member that is a container),
    # "one_tuple" (a tuple of one element), "float_key" (a float dict key / set member),
    # "optional_key" (a dict key / set member that is or holds an Optional),
    # "object_key" (a dict key other than str or int: JS object maps' keys are strings),
    # "contained_none" (a None or Optional inside a container: Lua's nil leaves a hole),
    # "optional_bool" (an Optional[bool]: Racket's #f for None is False too)
    unsupported: dict[_S, _S] = Field(default_factory=dict)
    # names of engine hooks (transition_rules/hooks.py) this language uses
    hooks: list[_S] = []
    batch: BatchRules | None = None  # None: the language's programs run one by one
    # other benchmarks' conventions, by name (``cruxeval-x``), read by ``audit``
    dialects: dict[_S, Dialect] = {}
