"""Settings: the nested synthesis group, its env names, and the deprecated flat names get_settings still reads."""

from __future__ import annotations

import logging
import os

import pytest

from kernel.errors import ConfigError
from kernel.settings import ENV_PREFIX, Settings, SynthSettings, get_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment without any SYNTHRAG_ variable (the test session sets some)."""
    for key in [k for k in os.environ if k.upper().startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)
    return monkeypatch


def test_synthesis_settings_are_one_group_with_the_old_defaults(env: pytest.MonkeyPatch) -> None:
    synth = get_settings().synth
    assert synth == SynthSettings()
    assert (synth.enabled, synth.questions, synth.max_attempts, synth.repetition_max) == (True, 2, 2, 0.5)
    assert (synth.grounding, synth.grounding_min, synth.dedup, synth.dedup_max_similarity) == (True, 0.6, True, 0.9)
    assert (synth.roundtrip, synth.roundtrip_k, synth.search, synth.weight) == (True, 5, None, 0.5)
    assert (synth.generate, synth.rerank_depth, synth.rerank_lambda, synth.expansion_alpha) == ("used", 10, None, None)
    assert all(field.description for field in SynthSettings.model_fields.values())
    assert not any(name.startswith("synth_") for name in Settings.model_fields)


def test_nested_env_names(env: pytest.MonkeyPatch) -> None:
    env.setenv("SYNTHRAG_SYNTH__ENABLED", "false")
    env.setenv("SYNTHRAG_SYNTH__ROUNDTRIP_K", "7")
    synth = get_settings().synth
    assert not synth.enabled and synth.roundtrip_k == 7 and synth.questions == 2


def test_flat_env_names_still_work_with_a_deprecation_warning(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env.setenv("SYNTHRAG_SYNTH_ENABLED", "false")
    env.setenv("SYNTHRAG_SYNTH_SEARCH", "true")
    env.setenv("SYNTHRAG_SYNTH_DEDUP_MAX_SIMILARITY", "0.8")
    with caplog.at_level(logging.WARNING, logger="kernel.settings"):
        synth = get_settings().synth
    assert not synth.enabled and synth.search and synth.dedup_max_similarity == 0.8
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "SYNTHRAG_SYNTH_ENABLED is deprecated; set SYNTHRAG_SYNTH__ENABLED instead" in warned
    assert any("SYNTHRAG_SYNTH__SEARCH" in m for m in warned)
    assert any("SYNTHRAG_SYNTH__DEDUP_MAX_SIMILARITY" in m for m in warned)
    assert len(warned) == 3


def test_nested_name_wins_over_the_flat_one(env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    env.setenv("SYNTHRAG_SYNTH_QUESTIONS", "4")
    env.setenv("SYNTHRAG_SYNTH__QUESTIONS", "3")
    with caplog.at_level(logging.WARNING, logger="kernel.settings"):
        assert get_settings().synth.questions == 3
    assert not caplog.records


def test_overrides_win_over_flat_names_and_merge_with_them(env: pytest.MonkeyPatch) -> None:
    env.setenv("SYNTHRAG_SYNTH_QUESTIONS", "4")
    env.setenv("SYNTHRAG_SYNTH_WEIGHT", "0.2")
    synth = get_settings(synth={"weight": 0.9}).synth
    assert synth.questions == 4 and synth.weight == 0.9
    assert get_settings(synth=SynthSettings(questions=1)).synth.questions == 1


def test_bad_values_name_the_variable_that_was_set(env: pytest.MonkeyPatch) -> None:
    env.setenv("SYNTHRAG_SYNTH_QUESTIONS", "99")
    with pytest.raises(ConfigError, match=r"SYNTHRAG_SYNTH_QUESTIONS: Input should be less than or equal to 10"):
        get_settings()
    env.delenv("SYNTHRAG_SYNTH_QUESTIONS")
    env.setenv("SYNTHRAG_SYNTH__GROUNDING_MIN", "1.5")
    with pytest.raises(ConfigError, match=r"SYNTHRAG_SYNTH__GROUNDING_MIN: "):
        get_settings()
    env.delenv("SYNTHRAG_SYNTH__GROUNDING_MIN")
    env.setenv("SYNTHRAG_SYNTH_ROUNDTRIP", "maybe")
    with pytest.raises(ConfigError, match=r"SYNTHRAG_SYNTH_ROUNDTRIP: "):
        get_settings()


def test_unknown_nested_synthesis_setting_is_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("SYNTHRAG_SYNTH__QUESTION", "3")  # a typo of QUESTIONS
    with pytest.raises(ConfigError, match=r"SYNTHRAG_SYNTH__QUESTION: Extra inputs are not permitted"):
        get_settings()
