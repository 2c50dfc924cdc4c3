"""What a build is asked to do (:class:`BuildSpec`), and the translator it implies: its
settings, its drafter, and how the manifest and the item store identify it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cruxforge.release.files import sha256_file
from cruxforge.store import ItemStore
from runtimes.spec import LANGUAGES

Translator = Literal["reference", "llm", "replay", "none"]
BackendName = Literal["batched", "auto", "local", "docker"]


class BuildSpec(BaseModel):
    """What to build: the seeds, the languages, where translations come from, the sandbox,
    and where the release goes. Every build is resumable: finished items are kept."""

    # One description of a build: the ``build`` flow's one parameter (the Prefect UI's
    # form, with the field descriptions as its help), the CLI's options (same help) and
    # the library's argument. Fields with a fixed set of values are Literals: dropdowns.

    model_config = ConfigDict(extra="forbid")

    seeds: str = Field(
        "seeds/demo.jsonl",
        description="Seed file: CRUXEval JSONL (id, code, input, output) or a .py file of "
        "functions with `assert f(...) == ...` (paths are the repository's).",
    )
    languages: list[str] = Field(
        default_factory=lambda: ["py", "js"],
        description="Languages to build (cruxforge ids), or ['all'].",
        json_schema_extra={"items": {"type": "string", "enum": ["all", *LANGUAGES]}},
    )
    translator: Translator = Field(
        "reference",
        description="Where translations come from: 'reference' (a folder of reference "
        "translations), 'llm' (an OpenAI-compatible endpoint), 'replay' (a recorded "
        "transcript, offline) or 'none' (drafts only: validated, never repaired).",
    )
    references: str | None = Field(
        "seeds/demo_reference", description="Reference translations folder ('reference')."
    )
    replay_from: str | None = Field(
        None, description="The transcript folder a 'replay' build answers from."
    )
    drafts: str | None = Field(
        None,
        description="An existing benchmark (CRUXEval-X folder, release, MultiPL-E-style "
        "folder): its functions are round 0's answers; failing ones go to the translator.",
    )
    model: str | None = Field(None, description="Model name ('llm', 'replay').")
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 ('llm')."
    )
    temperature: float | None = Field(None, description="Sampling temperature ('llm').")
    max_tokens: int | None = Field(None, description="Longest answer in tokens ('llm').")
    concurrency: int | None = Field(
        None, description="LLM requests in flight at once (default 16)."
    )
    llm_config: str | None = Field(None, description="TOML file of LLM settings.")
    max_repairs: int = Field(3, ge=0, description="Repair rounds after the first answer.")
    agreement: int = Field(10, ge=0, description="Generated test inputs per seed.")
    backend: BackendName = Field(
        "batched",
        description="Sandbox: 'batched' (the batched engine over 'auto'), 'auto' (host "
        "toolchain, else Docker), 'local' (bubblewrap + cgroups) or 'docker'.",
    )
    refresh: bool = Field(False, description="Recompute items the item store holds.")
    release_name: str = Field("demo", description="Release name: OUT_ROOT/NAME/VERSION.")
    version: str = Field("1", description="Release version.")
    out_root: str = Field("artifacts", description="Where releases go.")
    work_dir: str | None = Field(
        None, description="Item store and transcript (default OUT_ROOT/NAME/.work)."
    )
    seeds_licence: str | None = Field(None, description="Licence of the seed file.")

    @model_validator(mode="before")
    @classmethod
    def _replay_dir(cls, data: Any) -> Any:
        """``translator="replay:DIR"`` (the CLI's spelling) is replay from DIR."""
        if isinstance(data, dict) and str(data.get("translator", "")).startswith("replay:"):
            data = {**data, "translator": "replay",
                    "replay_from": str(data["translator"]).partition(":")[2] or None}  # fmt: skip
        return data

    @field_validator("languages", mode="before")
    @classmethod
    def _languages(cls, v: Any) -> list[str]:
        from runtimes.spec import parse_languages

        return parse_languages(v)

    @property
    def work(self) -> Path:
        return Path(self.work_dir or Path(self.out_root) / self.release_name / ".work")

    @property
    def release_dir(self) -> Path:
        return Path(self.out_root) / self.release_name / self.version

    def store(self) -> ItemStore:
        return ItemStore(self.work / "store")

    @property
    def translator_name(self) -> str:
        return self.translator

    def transcript_dir(self) -> Path | None:
        if self.translator == "replay":
            return Path(self.replay_from) if self.replay_from else None
        if self.translator == "llm":
            return self.work / "transcript"
        return None


def field_help(name: str) -> str:
    """A BuildSpec field's description (the CLI's help for the same option)."""
    return BuildSpec.model_fields[name].description or ""


class BuildError(ValueError):
    """The build was asked for something impossible (bad translator, unknown language)."""


def llm_settings(spec: BuildSpec) -> Any:
    """The LLMConfig of an llm/replay build; a replay reads the model from its release."""
    from cruxforge.llm.config import load_config

    overrides: dict[str, Any] = {
        "base_url": spec.base_url,
        "model": spec.model,
        "temperature": spec.temperature,
        "max_tokens": spec.max_tokens,
        "concurrency": spec.concurrency,
    }
    tdir = spec.transcript_dir()
    if spec.translator_name == "replay" and tdir is not None:
        manifest = tdir.parent / "manifest.json"
        if manifest.exists():
            recorded = json.loads(manifest.read_text(encoding="utf-8")).get("translator", {})
            for k in ("model", "temperature", "max_tokens"):
                if overrides[k] is None and recorded.get(k) is not None:
                    overrides[k] = recorded[k]
    path = Path(spec.llm_config) if spec.llm_config else None
    return load_config(path, {k: v for k, v in overrides.items() if v is not None})


def make_build_drafter(spec: BuildSpec) -> Any:
    from cruxforge.translate.drafters import make_drafter

    name = spec.translator_name
    if name == "reference":
        if not spec.references:
            raise BuildError("the reference translator needs references (--references DIR)")
        return make_drafter("reference", references=Path(spec.references))
    if name in ("llm", "replay"):
        return make_drafter(
            spec.translator if name == "replay" else "llm",
            llm_config=llm_settings(spec),
            transcript=spec.transcript_dir(),
        )
    if name == "none":
        if not spec.drafts:
            raise BuildError("--translator none validates drafts only: give --drafts DIR")
        return None
    raise BuildError(
        f"unknown translator {spec.translator!r}; known: reference, llm, replay:DIR, none"
    )


def translator_info(spec: BuildSpec) -> dict[str, Any]:
    """The translator as the manifest records it (no secrets: the key is never a setting)."""
    from cruxforge.translate.prompts import prompts_hash

    info: dict[str, Any] = {"name": spec.translator_name, "prompts_hash": prompts_hash()}
    if spec.drafts:
        folder = Path(spec.drafts)
        info["drafts"] = spec.drafts
        info["draft_files"] = {
            p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted([*folder.glob("*.jsonl"), *folder.glob("data/*.jsonl")])
            if p.is_file()
        }
    if spec.translator_name == "none":
        pass
    elif spec.translator_name == "reference":
        refs = Path(spec.references or "")
        info["references"] = spec.references
        info["reference_files"] = {
            p.name: sha256_file(p) for p in sorted(refs.glob("*.jsonl")) if p.is_file()
        }
    else:
        cfg = llm_settings(spec)
        info.update(
            model=cfg.model,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
            base_url=cfg.base_url if spec.translator_name == "llm" else None,
        )
    return info


def translator_id(spec: BuildSpec, lang: str) -> dict[str, Any]:
    """What identifies the translator for one language's items in the store key."""
    info = translator_info(spec)
    drafts = {"drafts": info["draft_files"]} if "draft_files" in info else {}
    if info["name"] == "none":
        return {"name": "none", **drafts}
    if info["name"] == "reference":
        return {"name": "reference", "file": info["reference_files"].get(f"{lang}.jsonl"),
                **drafts}  # fmt: skip
    keys = ("name", "model", "base_url", "temperature", "max_tokens", "prompts_hash")
    return {**{k: info[k] for k in keys}, **drafts}


def resolve_languages(languages: str | Sequence[str]) -> list[str]:
    from runtimes.spec import UnknownLanguageError, parse_languages

    try:
        return parse_languages(languages)
    except UnknownLanguageError as e:
        raise BuildError(str(e)) from None
