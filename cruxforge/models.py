"""Typed records that cross stage boundaries or land on disk (all versioned by FORMAT)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cruxforge.typesys import Type, parse_type
from cruxforge.values import from_wire

FORMAT_VERSION = 1


class Seed(BaseModel):
    """A seed as read from the user's file, before anything was run."""

    model_config = ConfigDict(extra="forbid")
    id: str
    code: str
    input: str  # text of the call's arguments (Python expression list)
    output: str  # text of the result (Python literal or expression)
    entry: str = "f"  # name of the function under test
    source: str = ""  # where it came from: "file.jsonl:12"


class Reason(BaseModel):
    code: str  # machine-readable reason code, e.g. "raises", "nondeterministic"
    message: str  # human sentence naming the seed, field and cause


class Param(BaseModel):
    name: str
    type: str  # text form of the type language, e.g. "list[tuple[int, str]]"


class Signature(BaseModel):
    name: str
    params: list[Param]
    result: str
    # why a part of the signature is less than exact, e.g. "param 'xs': empty list
    # element type taken from the result"; never silent
    notes: list[str] = []

    def param_types(self) -> list[Type]:
        return [parse_type(p.type) for p in self.params]

    def result_type(self) -> Type:
        return parse_type(self.result)


class TypedSeed(BaseModel):
    """A validated, typed seed: what every later stage consumes."""

    format: int = FORMAT_VERSION
    id: str
    code: str
    entry: str
    signature: Signature
    args: list[Any]  # wire-encoded (cruxforge.values.to_wire) argument values
    result: Any  # wire-encoded result
    input_text: str  # the seed's original input text
    output_text: str

    def arg_values(self) -> list[Any]:
        return [from_wire(a) for a in self.args]

    def result_value(self) -> Any:
        return from_wire(self.result)


class SeedCheck(BaseModel):
    """One record of `cruxforge seeds check --report`."""

    format: int = FORMAT_VERSION
    id: str
    status: Literal["ok", "rejected"]
    reason: Reason | None = None
    signature: Signature | None = None
    typed: TypedSeed | None = Field(None, exclude=False)
