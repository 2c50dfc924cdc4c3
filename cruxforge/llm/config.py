"""LLM endpoint settings, merged from one TOML file < environment < explicit overrides.

Every value remembers where it came from, so a bad value is reported with its source
(file path, environment variable or override) instead of a bare pydantic message.
The API key itself is never a setting: only the *name* of the variable holding it is,
so configs and transcripts can be shipped without leaking it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "CRUXFORGE_LLM_"
# Local OpenAI-compatible servers usually ignore the key, but the SDK insists on one.
PLACEHOLDER_API_KEY = "not-needed"


class ConfigError(ValueError):
    """A setting is missing, unknown or invalid; the message names its source."""


class LLMConfig(BaseModel):
    """Where and how to ask the model. ``base_url`` may stay unset for replay-only runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = None
    model: str = Field(min_length=1)
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=2048, gt=0)
    timeout_s: float = Field(default=60.0, gt=0.0)
    concurrency: int = Field(default=16, ge=1)  # requests in flight at once
    max_retries: int = Field(default=5, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0.0)
    backoff_max_s: float = Field(default=20.0, ge=0.0)

    def api_key(self) -> str:
        """Read at call time so the key never sits in a config object that gets dumped."""
        return os.environ.get(self.api_key_env) or PLACEHOLDER_API_KEY


FIELDS = tuple(LLMConfig.model_fields)


def env_var(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _from_file(path: Path) -> dict[str, tuple[Any, str]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read LLM config file {path}: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"LLM config file {path} is not valid TOML: {e}") from e
    # A project-wide file keeps its LLM settings under [llm]; a dedicated file may not.
    table = data["llm"] if isinstance(data.get("llm"), dict) else data
    where = f"{path} [llm]" if table is not data else str(path)
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown LLM setting(s) {unknown} in {where}; known: {list(FIELDS)}")
    return {k: (v, f"file {where}") for k, v in table.items()}


def _from_env(environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    out: dict[str, tuple[Any, str]] = {}
    if environ.get("OPENAI_BASE_URL"):  # the SDK's own variable, weaker than ours
        out["base_url"] = (environ["OPENAI_BASE_URL"], "environment variable OPENAI_BASE_URL")
    for field in FIELDS:
        name = env_var(field)
        if environ.get(name):  # empty means unset, as shells make that easy by accident
            out[field] = (environ[name], f"environment variable {name}")
    return out


def _from_overrides(overrides: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    unknown = sorted(set(overrides) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown LLM override(s) {unknown}; known: {list(FIELDS)}")
    # None means "flag not given" so CLI layers can pass every option through.
    return {k: (v, f"override {k!r}") for k, v in overrides.items() if v is not None}


def load_config(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> LLMConfig:
    """Merge file < environment < overrides and validate, naming the source of any bad value."""
    merged: dict[str, tuple[Any, str]] = {}
    if path is not None:
        merged.update(_from_file(path))
    merged.update(_from_env(os.environ if environ is None else environ))
    merged.update(_from_overrides(overrides or {}))
    try:
        return LLMConfig(**{k: v for k, (v, _) in merged.items()})
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            if field in merged:
                value, source = merged[field]
                problems.append(f"{field}={value!r} from {source}: {err['msg']}")
            else:
                problems.append(
                    f"{field}: {err['msg']} (set it in the config file, "
                    f"{env_var(field)} or an override)"
                )
        raise ConfigError("invalid LLM config: " + "; ".join(problems)) from None
