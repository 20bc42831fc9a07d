"""The window's Qt-free models: events, the open campaign, the draft of the next one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.gui.conftest import make_evaluation, make_grid, make_posterior
from zbo_gui.core.config import CampaignConfig, ScheduleConfig, config_from_dict
from zbo_gui.core.errors import ScheduleError
from zbo_gui.core.schedules import Bounds, generate_library
from zbo_gui.core.types import ProposalSource
from zbo_gui.model.campaign import CampaignModel
from zbo_gui.model.draft import UNDO_DEPTH, DraftModel, generated_library
from zbo_gui.model.events import EventEmitter, Events
from zbo_gui.model.messages import CampaignClosed, CampaignOpened, RunProgress, RunState

from .cli_helpers import tiny_config


def test_emitter_calls_in_order_once_and_every_callback_despite_errors() -> None:
    seen: list[tuple[str, object]] = []
    emitter = EventEmitter("x")
    first = emitter.connect(lambda v: seen.append(("a", v)))
    emitter.connect(first)  # connecting twice calls once
    emitter.connect(lambda v: seen.append(("b", v)))
    emitter(1)
    emitter.disconnect(first)
    emitter(3)
    assert seen == [("a", 1), ("b", 1), ("b", 3)]

    def broken(value: object) -> None:
        raise RuntimeError(f"view failed on {value}")

    emitter.disconnect()
    emitter.connect(broken)
    emitter.connect(lambda v: seen.append(("c", v)))
    with pytest.raises(RuntimeError, match="view failed on 4"):
        emitter(4)
    assert seen[-1] == ("c", 4)  # the view after the broken one still saw the change
    with pytest.raises(KeyError, match="no event 'nope'"):
        Events("x").emitter("nope")


def _opened() -> CampaignModel:
    model = CampaignModel()
    model.apply(CampaignOpened("/tmp/c.h5", CampaignConfig(), 0, ("dataset",)))
    return model


def test_campaign_model_holds_one_copy_and_derives_the_best() -> None:
    model = _opened()
    events: list[str] = []
    for name in model.events.names:
        model.events.emitter(name).connect(lambda v, n=name: events.append(n))
    grid = make_grid()
    model.apply(grid)
    model.apply(make_posterior(grid))
    model.apply(make_evaluation(0, (0.0, 0.0), 0.2, ProposalSource.INITIAL))
    model.apply(make_evaluation(1, (0.5, 0.5), None))
    model.apply(make_evaluation(2, (1.0, 0.0), 0.7, ProposalSource.USER))
    model.apply(make_evaluation(3, (1.5, 0.0), 0.7))
    assert events == ["grid", "posterior", "evaluations", "evaluations", "evaluations",
                      "evaluations"]
    assert model.best_evaluated().index == 2  # the first of equals
    assert [e.index for e in model.evaluations if e.succeeded] == [0, 2, 3]
    with pytest.raises(ValueError, match="evaluation 7 arrived after 4"):
        model.apply(make_evaluation(7, (0.0, 0.0), 0.1))
    with pytest.raises(TypeError, match="cannot apply str"):
        model.apply("not a message")
    # a point's grid index, decoded schedule and prediction; outside the grid: None
    index = model.grid_index(float(grid.x[3]), float(grid.y[2]))
    assert index == 2 * grid.x.size + 3
    np.testing.assert_array_equal(model.decoded(index), grid.decoded[index])
    assert model.predicted(index) == pytest.approx(
        (make_posterior(grid).mean[2, 3], make_posterior(grid).std[2, 3]))
    assert model.grid_index(100.0, 0.0) is None
    model.select_evaluation(2)
    assert model.selection.evaluation == 2 and model.selection.z == (1.0, 0.0)
    # closing forgets everything
    model.apply(CampaignClosed("/tmp/c.h5"))
    assert not model.is_open and model.evaluations == () and model.best_evaluated() is None


def test_state_progress_and_errors() -> None:
    model = _opened()
    progress: list[object] = []
    model.events.progress.connect(progress.append)
    model.set_state(RunState.RUNNING)
    model.apply(RunProgress("evaluation", 2, 10))
    model.report_error("boom")
    assert model.busy and model.error == "boom"
    model.set_state(RunState.PAUSED)  # resting: the progress is cleared, once
    model.set_state(RunState.IDLE)
    assert model.progress is None and progress[-1] is None and progress.count(None) == 1
    model.set_state(RunState.RUNNING)  # a new job: the old error is history
    assert model.error == ""


def test_draft_library_is_exactly_what_was_edited_with_undo() -> None:
    config = config_from_dict(tiny_config())
    draft = DraftModel(config)
    library = draft.library
    assert library.families == generated_library(config).families
    libraries: list[object] = []
    draft.events.library.connect(libraries.append)
    draft.set_seed(7)
    assert draft.library is library  # the seed changes nothing until Generate
    assert draft.stale and draft.stale_reason() == f"seed {config.seed} → 7"
    generated = draft.generate()
    assert not draft.stale and draft.stale_reason() == ""
    sc = config.schedules
    expected = generate_library(sc.counts, sc.n_epochs, Bounds(sc.beta_lo, sc.beta_hi), 7)
    np.testing.assert_array_equal(generated.schedules, expected.schedules)
    sketch = np.full((3, sc.n_epochs), 2.0)
    draft.add_sketch(sketch)
    assert draft.remove([0, 1]) == 2
    assert len(draft.library) == len(generated) + 3 - 2
    assert draft.library.families[-3:] == ("sketch",) * 3
    with pytest.raises(ScheduleError, match="sketch of 4 epochs"):
        draft.add_sketch(np.ones((1, 4)))
    with pytest.raises(ScheduleError, match="at least one"):
        draft.remove(range(len(draft.library)))
    # a longer N: Generate keeps the sketches, resampled
    draft.set_schedules(ScheduleConfig(n_epochs=12, counts=dict(sc.counts)))
    assert draft.stale
    regenerated = draft.generate()
    assert regenerated.n_epochs == 12 and regenerated.families.count("sketch") == 3
    assert not draft.stale
    undone = 0
    while draft.undo():
        undone += 1
    assert undone == 4 and draft.library is library
    # the first library was drawn with the old N and seed; the settings kept the new ones
    assert draft.stale_reason() == f"N 6 → 12, seed {config.seed} → 7"
    assert len(libraries) == 4 + 4
    draft.add_sketch(np.full((UNDO_DEPTH + 10, sc.n_epochs), 3.0))
    for _ in range(UNDO_DEPTH + 5):
        draft.remove([0])
    assert sum(1 for _ in iter(draft.undo, False)) == UNDO_DEPTH  # the oldest are forgotten


def test_load_replaces_the_whole_draft_and_undo_brings_it_back() -> None:
    draft = DraftModel(config_from_dict(tiny_config()))
    config, library = draft.config, draft.library
    other = dataclasses.replace(config_from_dict(tiny_config(schedules={"n_epochs": 9})), seed=3)
    draft.load(other)
    assert draft.config == other and draft.library.n_epochs == 9 and not draft.stale
    assert draft.undo()
    assert draft.config == config and draft.library is library and not draft.stale


def test_settings_replace_only_their_sections() -> None:
    draft = DraftModel(config_from_dict(tiny_config()))
    dataset, schedules = draft.config.dataset, draft.config.schedules
    other = CampaignConfig(seed=11)
    draft.set_settings(other)
    assert draft.config.seed == 11 and draft.config.bo == other.bo
    assert draft.config.dataset == dataset and draft.config.schedules == schedules


def test_a_draft_of_schedule_pairs_is_what_zbo_run_would_build(tmp_path) -> None:
    from zbo_gui.runner import seed_library

    config = config_from_dict(tiny_config(
        schedules={"beta_d_lo": 0.05, "beta_d_hi": 5.0, "beta_d_families": {"constant": 1}}))
    draft = DraftModel(config)
    built = seed_library(config)
    assert draft.library.pairs and draft.library.families == built.families
    np.testing.assert_array_equal(draft.library.schedules, built.schedules)
    assert np.ptp(draft.library.schedules[:, 1], axis=1).max() == 0.0  # constant β_d only
    # a CSV export of a pair keeps its own β_d curve when imported into a draft of pairs
    csv = tmp_path / "pair.csv"
    csv.write_text("epoch,beta_c,beta_d\n0,1.0,0.2\n1,2.0,0.3\n", encoding="utf-8")
    assert draft.import_csv(csv) == 1
    np.testing.assert_allclose(draft.library.schedules[-1][1][[0, -1]], [0.2, 0.3])
    assert draft.library.families[-1] == "csv"
    draft.undo()
    # switching β_d off makes the library stale, naming why; Generate gives β_c curves again
    off = dataclasses.replace(config.schedules, beta_d_lo=None, beta_d_hi=None)
    draft.set_schedules(off)
    assert draft.stale and "β_d bounds [0.05, 5] → off" in draft.stale_reason()
    draft.generate()
    assert not draft.library.pairs and not draft.stale
    np.testing.assert_array_equal(draft.library.schedules, built.beta_c)
