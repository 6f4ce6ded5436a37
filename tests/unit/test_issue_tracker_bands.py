"""Which "very close" band the service's issue tracker gets: the encoder's calibrated one, unless
the topic similarity is set by hand."""

from __future__ import annotations

import pytest

from config.settings import load_settings
from detectors.issues import IssueTracker
from pantau.topic_bands import E5_SMALL_BANDS, TopicBands
from service.runtime import make_issue_tracker


def test_the_encoders_very_close_band_is_used() -> None:
    tracker = make_issue_tracker(load_settings(), TopicBands(0.967, 0.991))
    assert (tracker.similarity, tracker.very_close) == (0.967, 0.991)


def test_without_a_calibrated_band_it_is_half_way_from_the_similarity_to_one() -> None:
    assert TopicBands.derived(0.96).very_close == pytest.approx(0.98)
    assert IssueTracker(0.96).very_close == pytest.approx(0.98)


def test_the_frozen_encoders_bands_are_the_hand_set_ones() -> None:
    tracker = make_issue_tracker(load_settings())
    assert (tracker.similarity, tracker.very_close) == (0.88, pytest.approx(0.94))
    assert TopicBands(0.88, pytest.approx(0.94)) == E5_SMALL_BANDS


def test_a_similarity_set_by_hand_derives_its_own_band() -> None:
    tracker = make_issue_tracker(load_settings(topic_similarity=0.9), TopicBands(0.967, 0.991))
    assert tracker.similarity == 0.9
    assert tracker.very_close == pytest.approx(0.95)
