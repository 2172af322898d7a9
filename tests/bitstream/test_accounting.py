import numpy as np
import pytest

from bitstream import EntropyTables, Profile, bitrate_report, fit_f0_given_units, fit_stream_tables, write_srb
from bitstream.container import read_header
from tests.bitstream.helpers import random_runs, random_streams

SR = 16000


@pytest.fixture(scope="module", params=[pytest.param("bigram", id="bigram"), pytest.param("trigram", id="trigram"),
                                        pytest.param("f0-given-units", id="trigram-f0-given-units")])
def tables(request):
    rng = np.random.default_rng(20)
    units = [random_runs(rng, 5000, 100) for _ in range(4)]
    f0 = [random_runs(rng, 1250, 21, 1.5) for _ in range(4)]
    unit_tables = fit_stream_tables(units, 100, symbol_order=1 if request.param == "bigram" else 2, packet_frames=100)
    if request.param == "f0-given-units":
        f0_tables = fit_f0_given_units(f0, units, 21, 100, ratio=4, packet_frames=25)
    else:
        f0_tables = fit_stream_tables(f0, 21, packet_frames=25)
    return EntropyTables(unit_tables, f0_tables, Profile(speaker_ids=482))


@pytest.mark.parametrize("seconds", [pytest.param(0.5, id="short"), pytest.param(7, id="7s"), pytest.param(600, id="10min")])
@pytest.mark.parametrize("trained", [pytest.param(True, id="trained"), pytest.param(False, id="uniform")])
def test_lines_add_up_to_the_file(tables, seconds, trained):
    s = random_streams(np.random.default_rng(21), int(SR * seconds))
    t = tables if trained else None
    data = write_srb(s, t)
    rep = bitrate_report(data, t)
    assert sum(bits for _, bits in rep.lines()) == pytest.approx(8 * len(data), abs=1e-6)
    assert rep.total_bits == 8 * len(data)
    assert rep.duration == pytest.approx(s.duration)
    h = read_header(data, t)
    assert rep.header_bits + rep.speaker_bits + rep.pitch_stats_bits == 8 * h.size
    assert rep.framing_bits >= 32 * h.num_packets  # length, sequence, CRC: at least 4 bytes each


def test_pitch_statistics_are_their_own_line():
    import dataclasses

    s = random_streams(np.random.default_rng(23), SR * 3)
    plain = bitrate_report(write_srb(s))
    rep = bitrate_report(write_srb(dataclasses.replace(s, pitch_stats=(100, 60))))
    assert dict(rep.lines())["pitch level"] == 16 and dict(plain.lines())["pitch level"] == 0
    assert rep.header_bits == plain.header_bits and rep.total_bits == plain.total_bits + 16
    assert "pitch level/spread 100/60" in rep.format()


def test_payload_close_to_ideal_cross_entropy(tables):
    """Payload bits within 1 % of the ideal code length plus at most 2 words per packet."""
    s = random_streams(np.random.default_rng(22), SR * 1800)
    rep = bitrate_report(write_srb(s, tables), tables)
    ideal = rep.units_bits + rep.durations_bits + rep.f0_bits
    payload = ideal + rep.coder_bits
    assert payload <= 1.01 * ideal + 64 * rep.num_packets
    # In practice the coder needs far less than the allowance: a few bits per packet.
    assert rep.coder_bits / rep.num_packets < 8


def test_fixed_length_figure(tables):
    s = random_streams(np.random.default_rng(23), SR * 3)
    rep = bitrate_report(write_srb(s, tables), tables)
    assert rep.fixed_length_bps == 7 * 50 + 5 * 12.5


def test_format_lists_every_stream(tables):
    s = random_streams(np.random.default_rng(24), SR * 3)
    text = bitrate_report(write_srb(s, tables), tables).format()
    for word in ("units", "durations", "f0", "speaker", "header", "packet framing", "coder overhead", "total",
                 "paper-style"):
        assert word in text
