"""Type-transition rules kept as data, and the small engine that renders from them.

Loading the package registers the rules' batch composer with the batched engine
(``runtimes.batched``), which imports nothing of the rules itself.
"""

from transition_rules import batch as _batch  # noqa: F401 - registers the composer
