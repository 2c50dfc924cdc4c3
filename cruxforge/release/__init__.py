"""Builds and releases: seeds -> cases -> translation per language -> a versioned release.

The steps are plain functions (no Prefect) so the flows in ``flows/`` wrap them as coarse
tasks and :func:`build_release` runs them in order without an orchestrator. A release is
``<out_root>/<name>/<version>/``:

- ``data/<lang>.jsonl``: validated items in CRUXEval-X's format (integer ``id``), in
  seed-file order; ``data/all.jsonl``: all of them with a ``lang`` field;
  ``cruxeval-x/<Split>.jsonl``: the same under CRUXEval-X's split names;
- ``report.jsonl``: one record per seed and language (``id lang status reason rounds tokens``);
- ``seeds.jsonl`` (the seed file as given), ``typed_seeds.jsonl``, ``cases.jsonl`` (every
  test case the items passed), ``README.md`` (dataset card, with the YAML header that
  ``datasets.load_dataset`` reads), ``transcript/`` (LLM builds);
- ``manifest.json``: what produced it (versions, hashes, toolchains, translator, model
  settings, prompt hash), counts, a hash per item and per file.

:func:`verify_release` re-runs every item and checks the manifest against the files and
the current rules and runtime specs.
"""

from cruxforge.release.build import (
    build_release,
    check_seeds,
    compute_cases,
    drafts_problems,
    read_build_drafts,
    runtime_status,
    translate_batch,
    unavailable_reports,
)
from cruxforge.release.files import item_hash, sha256_file, tree_hash
from cruxforge.release.spec import (
    BuildError,
    BuildSpec,
    llm_settings,
    make_build_drafter,
    resolve_languages,
    translator_id,
    translator_info,
)
from cruxforge.release.verify import VerifyResult, verify_release
from cruxforge.release.write import (
    DEMO_LICENCE,
    MANIFEST_FORMAT,
    MANIFEST_KIND,
    REPORT_FIELDS,
    _licence,
    write_release,
)

__all__ = [
    "DEMO_LICENCE",
    "MANIFEST_FORMAT",
    "MANIFEST_KIND",
    "REPORT_FIELDS",
    "BuildError",
    "BuildSpec",
    "VerifyResult",
    "_licence",
    "build_release",
    "check_seeds",
    "compute_cases",
    "drafts_problems",
    "item_hash",
    "llm_settings",
    "make_build_drafter",
    "read_build_drafts",
    "resolve_languages",
    "runtime_status",
    "sha256_file",
    "translate_batch",
    "translator_id",
    "translator_info",
    "tree_hash",
    "unavailable_reports",
    "verify_release",
    "write_release",
]
