"""The closed list of reason codes a seed can be rejected with, and how messages read.

One code per cause so reports can be counted and filtered mechanically; the message is
for people and always names the seed id, the field at fault and the cause.
"""

from __future__ import annotations

from cruxforge.models import Reason

#: code -> what it means (shown by ``cruxforge seeds check --help`` readers and the docs)
REASON_CODES: dict[str, str] = {
    # intake: the record itself
    "malformed_json": "the line is not valid JSON, or not a JSON object",
    "missing_field": "a required field (code, input, output, id) is absent",
    "bad_field_type": "a field has the wrong JSON type (all fields are strings)",
    "duplicate_id": "another record earlier in the file has the same id",
    "unsupported_assert": "a top-level assert in a .py seed file is not `f(...) == expected`",
    # static checks on the code
    "syntax_error": "the code does not parse",
    "no_entry_function": "no module-level function with the entry name",
    "uses_import": "the code imports modules",
    "uses_io": "the code calls print/input/open/breakpoint/exit/help",
    "uses_reflection": "the code uses eval/exec/compile/__import__/globals/locals/vars/"
    "getattr-style introspection or dunder attributes",
    "uses_nondeterminism": "the code uses random/time/os/sys/... names, id() or hash()",
    # running it
    "bad_input": "the input text does not evaluate, or does not fit the parameters",
    "bad_output": "the output text does not evaluate",
    "raises": "the module code or the call raised an exception",
    "timeout": "the call did not finish within the wall-time limit",
    "memory_limit": "the call exceeded the address-space limit",
    "crashed": "the runner process died without an exception (signal)",
    "prints": "the call wrote to stdout/stderr",
    "output_mismatch": "the call returned something other than the output (strict types)",
    "nondeterministic": "a second run under another PYTHONHASHSEED gave a different outcome",
    "unsupported_value": "an argument or the result is outside the type language",
    "untypable": "no type of the type language carries the values (sub-reason in message)",
}


def make_reason(code: str, seed_id: str, field: str, cause: str) -> Reason:
    """Build a Reason whose message names the seed, the field and the cause."""
    if code not in REASON_CODES:
        raise ValueError(f"unknown reason code {code!r}")
    return Reason(code=code, message=f"seed {seed_id}: {field}: {cause}")
