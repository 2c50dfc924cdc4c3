"""Name the running flow in the host sandbox slots it takes (:mod:`runtimes.slots`), so a
build waiting for a slot can say which flow runs hold them."""

from __future__ import annotations

import os

from runtimes.slots import set_holder_label


def label_slots(what: str) -> str:
    """``flow run 'NAME' (ID): WHAT``, set as this process's slot label; returned."""
    from prefect.runtime import flow_run

    label = f"flow run {flow_run.name!r} ({flow_run.id}): {what}, pid {os.getpid()}"
    set_holder_label(label)
    return label
