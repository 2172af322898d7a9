"""Edits in the symbol domain and the 1.1 header field that carries a pitch shift."""

from pathlib import Path

import numpy as np
import pytest

from bitstream import SpeakerCode, SrbFormatError, SrbStreamsError, read_header, read_srb, write_srb
from bitstream.binary import crc16
from bitstream.container import VERSION_MINOR
from bitstream.edit import change_tempo, edit_srb, resample_nearest, set_speaker, shift_pitch, stretch_runs
from tests.bitstream.helpers import random_streams

EXAMPLE = Path(__file__).resolve().parents[2] / "docs/examples/LJ001-0017.srb"


def runs(x):
    x = np.asarray(x)
    return x[np.r_[True, x[1:] != x[:-1]]]


@pytest.mark.parametrize("factor", [0.8, 1.25, 2.0])
def test_tempo_scales_length_and_keeps_run_order(factor):
    s = random_streams(np.random.default_rng(1), 16000 * 7 + 123, mean_run=4.0)
    t = change_tempo(s, factor)
    assert t.num_samples == round(s.num_samples / factor)
    assert t.units.size == -(-t.num_samples // 320) and t.f0.size == -(-t.num_samples // 1280)
    # Runs keep their order; slowing down keeps every run, speeding up may only drop some.
    kept, orig = runs(t.units).tolist(), runs(s.units).tolist()
    it = iter(orig)
    assert all(any(r == o for o in it) for r in kept)  # kept is a subsequence of orig
    if factor < 1:
        assert kept == orig


def test_stretch_runs_scales_each_run():
    x = np.repeat([1, 2, 3], [10, 20, 30])
    assert np.array_equal(stretch_runs(x, 120), np.repeat([1, 2, 3], [20, 40, 60]))
    assert np.array_equal(resample_nearest(np.array([4, 5]), 4), [4, 4, 5, 5])


def test_tempo_out_of_range():
    s = random_streams(np.random.default_rng(0), 16000)
    with pytest.raises(SrbStreamsError, match="tempo"):
        change_tempo(s, 10.0)


def test_speaker_swap_keeps_everything_else():
    rng = np.random.default_rng(2)
    a, b = random_streams(rng, 30000), random_streams(rng, 50000, speaker=SpeakerCode.known(7, 482))
    c = set_speaker(a, b)
    assert c.speaker == b.speaker and np.array_equal(c.units, a.units) and c.num_samples == a.num_samples
    other_model = random_streams(rng, 30000, model_id=1)
    with pytest.raises(SrbStreamsError, match="model"):
        set_speaker(a, other_model)
    # models known to code speakers alike (a bundle and those it decodes): accepted, both ways
    assert set_speaker(a, other_model, same_coding={a.model_id, 1}).speaker == other_model.speaker
    assert set_speaker(other_model, a, same_coding=(1, a.model_id)).speaker == a.speaker
    with pytest.raises(SrbStreamsError, match="model 00000001"):
        set_speaker(a, other_model, same_coding={1, 2})  # the streams' model is not among them


def test_pitch_field_round_trip_and_version():
    s = random_streams(np.random.default_rng(3), 40000)
    plain = write_srb(s)
    assert plain[3] == 0x10  # no edit: still a 1.0 file, readable by 1.0 readers
    shifted = write_srb(shift_pitch(s, -2.5))
    assert shifted[3] == 0x11 and shifted[4] & 0x04
    back = read_srb(shifted)
    assert back.pitch_cents == -250 and np.array_equal(back.units, s.units)
    assert shift_pitch(back, 2.5).pitch_cents == 0
    with pytest.raises(SrbStreamsError, match="cents"):
        shift_pitch(s, 30)


def _reheader(data: bytes, version: int, flags: int) -> bytes:
    h = read_header(data)
    body = bytearray(data[: h.size - 2])
    body[3], body[4] = version, flags
    return bytes(body) + crc16(bytes(body)).to_bytes(2, "big") + data[h.size :]


def test_pitch_flag_refused_in_a_1_0_file_and_newer_minor_refused():
    s = random_streams(np.random.default_rng(4), 40000)
    shifted = write_srb(shift_pitch(s, 1))
    with pytest.raises(SrbFormatError, match="reserved flag"):
        read_header(_reheader(shifted, 0x10, shifted[4]))
    with pytest.raises(SrbFormatError, match="newer"):
        read_header(_reheader(shifted, 0x10 | (VERSION_MINOR + 1), shifted[4]))  # the next minor, unknown here


def test_example_file_is_unchanged_and_editable():
    from bitstream import EntropyTables

    tables = EntropyTables.load(EXAMPLE.parent / "standin-k100.tables.npz")
    data = EXAMPLE.read_bytes()
    s = read_srb(data, tables)
    assert write_srb(s, tables, read_header(data, tables).packet_frames) == data  # 1.0 bytes kept
    out = edit_srb(data, tables, speaker=SpeakerCode.known(5, 482), semitones=2, tempo=1.25)
    e = read_srb(out, tables)
    assert e.speaker.indices.tolist() == [5] and e.pitch_cents == 200
    assert abs(e.num_samples - s.num_samples / 1.25) <= 1
