"""Evaluation of models on a CRUXEval-X-format benchmark, checked by execution.

``items``: reading a release and locating the masked span of each item;
``prompts``: the few-shot prompts (templates in ``prompts/``) and answer extraction;
``predictions``: importing CRUXEval-X-style prediction files;
``check``: turning an answer into a program, screening it, running it, judging it;
``score``: pass@1 tables; ``run``: the whole evaluation of one model.
"""
