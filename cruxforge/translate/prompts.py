"""Prompt templates (files in cruxforge/prompts/) filled for one seed and language."""

from __future__ import annotations

from pathlib import Path

from cruxforge.models import TypedSeed
from cruxforge.templates import TemplateDir
from transition_rules.engine import rules_for

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
FEWSHOT_DIR = Path(__file__).resolve().parents[2] / "seeds" / "demo_reference"
FEWSHOT_SEED = "demo_5"  # a short function with a list, written for the project

TEMPLATES = TemplateDir(PROMPTS_DIR)
template = TEMPLATES.template
prompts_hash = TEMPLATES.hash


def fence(lang: str) -> str:
    """The tag after ``` that prompts ask for (the rule file's ``[names] fence``)."""
    return rules_for(lang).names.fence


def _fewshot(lang: str, seed_id: str, fewshot_code: dict[str, str] | None) -> str:
    if not fewshot_code or FEWSHOT_SEED not in fewshot_code or seed_id == FEWSHOT_SEED:
        return ""
    python, target = fewshot_code.get("__python__", ""), fewshot_code[FEWSHOT_SEED]
    return template("fewshot").format(
        python=python, target=target, fence=fence(lang), lang_name=rules_for(lang).name
    )


def translate_messages(
    seed: TypedSeed, lang: str, stub: str, fewshot_code: dict[str, str] | None = None
) -> list[dict[str, str]]:
    rules = rules_for(lang)
    user = template("translate").format(
        lang_name=rules.name,
        python=seed.code.strip(),
        stub=stub,
        fence=fence(lang),
        fewshot=_fewshot(lang, seed.id, fewshot_code),
    )
    return [{"role": "system", "content": template("system")}, {"role": "user", "content": user}]


def repair_message(kind: str, lang: str, **fields: str) -> dict[str, str]:
    rules = rules_for(lang)
    text = template(kind).format(lang_name=rules.name, fence=fence(lang), **fields)
    return {"role": "user", "content": text}
