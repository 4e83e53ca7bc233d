"""tune_gc: start-up objects leave the collector's sight, young collections run less often."""

from __future__ import annotations

import gc

from loreweave.actors.runtime.process import tune_gc


def test_tune_gc_freezes_what_exists_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc(young=12_345)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == 12_345
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
