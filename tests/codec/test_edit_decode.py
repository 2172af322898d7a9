"""Bitstream edits as heard: pitch and tempo of the decoded audio (bundled model)."""

from importlib import resources

import numpy as np
import pytest
import torch

from bitstream import read_srb
from bitstream.edit import edit_srb
from codec.api import Codec
from codec.synth import pitch_ratio

torch.set_num_threads(1)
DEMO = str(resources.files("codec") / "assets" / "samples" / "demo.flac")


@pytest.fixture(scope="module")
def codec():
    return Codec.from_pretrained()


@pytest.fixture(scope="module")
def data(codec):
    return codec.encode(DEMO)


def median_f0(wav):
    import parselmouth

    f = parselmouth.Sound(wav.astype(np.float64), 16000).to_pitch_ac(pitch_floor=75, pitch_ceiling=400)
    f = f.selected_array["frequency"]
    return float(np.median(f[f > 0]))


def test_pitch_ratio_is_close_to_exact():
    for cents in (-2400, -400, 1, 200, 1700):
        assert abs(1200 * np.log2(float(pitch_ratio(cents))) - cents) < 5


@pytest.mark.parametrize("semitones", [-3, 3])
def test_pitch_edit_moves_median_f0(codec, data, semitones):
    ref = codec.decode(data)[0]
    out = codec.decode(edit_srb(data, codec.tables, semitones=semitones))[0]
    assert out.shape == ref.shape
    moved = 12 * np.log2(median_f0(out) / median_f0(ref))
    assert abs(moved - semitones) < 1.0


def test_tempo_edit_changes_duration(codec, data):
    ref = codec.decode(data)[0]
    out = codec.decode(edit_srb(data, codec.tables, tempo=1.25))[0]
    assert abs(out.size / ref.size - 0.8) < 0.001


def test_stream_decode_applies_the_pitch_shift(codec, data):
    edited = edit_srb(data, codec.tables, semitones=3)
    whole = codec.decode(edited)[0]
    streamed = np.concatenate([c.audio for c in codec.stream_decode(edited)])
    assert streamed.shape == whole.shape
    assert abs(12 * np.log2(median_f0(streamed) / median_f0(whole))) < 0.5


def test_speaker_edit_changes_the_voice_not_the_length(codec, data):
    other = read_srb(codec.encode(DEMO, speaker_id=0), codec.tables)
    out = codec.decode(edit_srb(data, codec.tables, speaker=other))[0]
    ref = codec.decode(data)[0]
    assert out.shape == ref.shape and np.abs(out - ref).max() > 0.01
