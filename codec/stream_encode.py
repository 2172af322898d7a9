"""Encoding long files with bounded memory: the audio is read in blocks, never whole.

``Codec.encode`` analyses a whole utterance at once: its activations grow with the input (the
content encoder alone holds ~0.5 GB per 10 min). Here the file is read with soundfile one packet
(2 s) at a time, each block with enough audio either side for the analysers' receptive fields,
and only the symbol-rate tracks are kept whole (F0 at 100 Hz, units at 50 Hz: under 4 MB per hour).

Two parts of the analysis are per utterance, so the file is read twice:
1. Praat's wide pass (whose quantiles set the pitch range of the second pass) and the mean log-mel
   the speaker encoder subtracts;
2. Praat's second pass, the content units, and the speaker encoder's mean and std pooling,
   accumulated as sums (float64) over blocks.
(and once before, for the peak and the high band's level, which picks the bundle's wideband or
narrowband encoders: :mod:`codec.narrowband`). Then log-F0 is normalised over the whole file and the F0 VQ-VAE
codes it in windows (exact: its encoder sees ~136 frames each side, the windows give it 160).

What differs from ``Codec.encode`` (measured in benchmarks/results/stream_encode.md): units and
the speaker code come out the same (on every file measured). F0 mostly does too: Praat is run per
block with 1 s either side, with its frame grid and voicing threshold made the whole file's (see
``praat_block``), but its path search is global over its input, so a few frames can still differ,
now and then far from a block join. Measured: 9 of 10 dev files and a 10 min concatenation give
identical bytes; the tenth has 94 % of its F0 codes equal (margins of 2 s do not change that file;
4 s leave 2 frames different: no margin makes it exact, so 1 s it is).

The envelope layer (srb-v0.6 on, :mod:`codec.envelope`) is measured on a streamed decode of the
streams (:func:`_envelope_codes`). With the pitch resynthesis, WORLD places its pulses anew in each
streamed window, so that decode's samples are not the whole file's and a few codes differ (5 of the
demo's 154; docs/STREAMING_EDITING.md); without it, the codes are the whole-file encoder's.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import soundfile as sf
import torch
import torchaudio

from bitstream import SpeakerCode, Streams, write_srb

from . import pitch
from .audio import CLIP_LEVEL, MIN_SECONDS, check_clipping, check_level, dc_offset, highpass
from .bandwidth import BandwidthMeter
from .errors import AudioError, ModelError
from .level import active_level, frame_powers, gain_code, level_corrected_gain

#: Audio either side of a block for Praat (its windows are 3 periods of 50 Hz = 60 ms, but its
#: path search spans the whole input; see the module docstring for what 1 s leaves different).
PRAAT_MARGIN_S = 1.0
#: 100 Hz frames either side of an F0 VQ-VAE window: its encoder sees ~136 frames each side.
F0VQ_MARGIN = 160


class BlockReader:
    """Blocks of a file at the codec's rate, mono float32, with margins; resamples blockwise."""

    def __init__(self, path, rate: int, highpass_hz: float | None = None):
        try:
            self.info = sf.info(str(path))
        except Exception as exc:  # soundfile raises several types
            raise AudioError(f"cannot read audio {path}: {exc}") from exc
        self.path, self.rate, self.src_rate = str(path), rate, int(self.info.samplerate)
        # Same length as torchaudio's whole-file resample gives.
        self.num_samples = math.ceil(self.info.frames * rate / self.src_rate)
        # Removed from every block, as load_audio removes it from the whole file (one more read,
        # without resampling: about 1 s per hour of 16-bit audio).
        self.offset = dc_offset(b.mean(axis=1) for b in sf.blocks(self.path, blocksize=1 << 16, dtype="float32",
                                                                   always_2d=True))
        self.highpass_hz = highpass_hz

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` (clipped to the file) at the codec's rate, high-passed as
        :func:`codec.audio.load_audio` high-passes the whole file (exactly: :func:`codec.audio.highpass`)."""
        start, stop = max(0, start), min(self.num_samples, stop)
        if self.highpass_hz is None:
            return self.raw(start, stop)
        return highpass(self.raw, start, stop, self.highpass_hz, self.rate)

    def raw(self, start: int, stop: int) -> np.ndarray:
        """:meth:`read` before the high-pass (what the input checks see)."""
        start, stop = max(0, start), min(self.num_samples, stop)
        if self.src_rate == self.rate:
            data, _ = sf.read(self.path, start=start, stop=stop, dtype="float32", always_2d=True)
            return data.mean(axis=1) - self.offset
        # Resample a block with 0.1 s of source audio either side, then cut: the resampling
        # filter is a few ms long, so the cut is the whole-file resample up to rounding.
        pad = int(0.1 * self.src_rate)
        s0 = max(0, int(start * self.src_rate / self.rate) - pad)
        s1 = min(self.info.frames, int(math.ceil(stop * self.src_rate / self.rate)) + pad)
        data, _ = sf.read(self.path, start=s0, stop=s1, dtype="float32", always_2d=True)
        x = torchaudio.functional.resample(torch.from_numpy(data.mean(axis=1) - self.offset), self.src_rate,
                                           self.rate).numpy()
        off = round(s0 * self.rate / self.src_rate)
        out = x[start - off : stop - off]
        return np.pad(out, (0, stop - start - out.size))


def _blocks(n: int, size: int):
    for s in range(0, n, size):
        yield s, min(n, s + size)


@torch.inference_mode()
def encode_file_stream(codec, path, speaker_id: int | None = None, unit_lambda: float | None = None,
                       packet_frames: int | None = None, envelope: bool | None = None,
                       envelope_lambda: float | None = None, narrowband: bool | None = None) -> Streams:
    """Streams of the speech file ``path``, analysed block by block (see the module docstring);
    ``envelope`` and ``narrowband`` as in :meth:`codec.api.Codec.encode_streams` (the decode the
    envelope layer measures against is streamed too, :func:`_envelope_codes`; the input's
    high band is measured in the first pass)."""
    cfg = codec.config
    rd = BlockReader(path, codec.sample_rate, codec.input_highpass)
    n, sr = rd.num_samples, codec.sample_rate
    if n < MIN_SECONDS * sr:
        raise AudioError(f"audio is {n / sr:.3f} s long; at least {MIN_SECONDS} s is needed")
    packet_frames = codec.packet_frames(packet_frames)
    block = packet_frames * cfg.unit_hop
    hop = pitch.HOP
    pm = int(PRAAT_MARGIN_S * sr) // hop * hop

    # Pass 0: the peak. Praat's voicing decision is relative to the peak of the whole sound it is
    # given, so every block gets a one-sample pulse at the file's peak, in a silent tail far
    # from the frames kept (measured: without it ~3 % of frames flip voicing at block scale).
    # Each block also counts its samples near its own peak: that is the clipping count wherever
    # the block holds the file's peak, so only a block whose peak falls just short of the file's
    # (rare) is read again to count against the file's threshold.
    # The checks see the input before the high-pass, as load_audio's do; the rest sees it after.
    peaks, near, powers, heard_peak = [], [], [], 0.0
    meter = BandwidthMeter(sr)  # which pair of encoders analyses the input (codec.narrowband)
    for s, e in _blocks(n, block):
        mag = np.abs(rd.raw(s, e))
        peaks.append(float(mag.max()))
        near.append(int((mag >= CLIP_LEVEL * peaks[-1]).sum()))
        x = rd.read(s, e)
        meter.update(x)
        powers.append(frame_powers(np.abs(x)))  # blocks are whole 20 ms frames, but the last
        heard_peak = max(heard_peak, float(np.abs(x).max()))
    if not all(math.isfinite(p) for p in peaks):  # (max() of a list with a NaN depends on its order)
        raise AudioError("audio contains NaN or infinite samples")
    peak = max(peaks)
    check_level(peak)
    check_clipping(sum(c if p == peak else int((np.abs(rd.raw(s, e)) >= CLIP_LEVEL * peak).sum())
                       for (s, e), p, c in zip(_blocks(n, block), peaks, near) if p >= CLIP_LEVEL * peak), n)
    content, spk = codec.encoders(meter.high_band_db, narrowband)
    mel_hop = spk.mel.hop_length
    # Speaker convs: sum of paddings of the dilated stack, plus the mel window, in samples.
    spk_margin = (sum(2 * (i + 1) for i in range(spk.config.layers)) + 8) * mel_hop
    cm = int(math.ceil(content.receptive_field_s * sr / 2 / cfg.unit_hop)) * cfg.unit_hop + cfg.unit_hop
    tail = np.zeros(20 * hop)
    tail[-1] = heard_peak

    def praat_block(s, e, floor, ceiling):
        # Praat centres its frames in the sound, so a block is made as long as the file modulo
        # the 10 ms hop: its frames then fall on the whole file's frame times.
        x = rd.read(s - pm, e + pm + n % hop).astype(np.float64)
        f = pitch.praat_f0(np.concatenate([x, tail]), floor, ceiling)
        a = (s - max(0, s - pm)) // hop
        return f[a : a + pitch.num_frames(e - s)]

    def mel_frames(s, e):
        """Log-mel frames centred in [s, e) (the last block also takes the frame at n)."""
        a, b = max(0, s - spk_margin), min(n, e + spk_margin)
        x = torch.from_numpy(rd.read(a, b))
        logmel = torch.log(spk.mel(x[None]) + 1e-5)[0]  # (n_mels, frames)
        j0, j1 = -(-s // mel_hop), (n // mel_hop + 1 if e >= n else -(-e // mel_hop))
        return logmel, j0 - (-(-a // mel_hop)), j1 - j0

    # Pass 1: Praat's wide pass, the mel mean.
    f0_wide, mel_sum, mel_count = [], 0.0, 0
    for s, e in _blocks(n, block):
        f0_wide.append(praat_block(s, e, pitch.WIDE_FLOOR, pitch.WIDE_CEILING))
        logmel, off, cnt = mel_frames(s, e)
        mel_sum = mel_sum + logmel[:, off : off + cnt].double().sum(dim=1)
        mel_count += cnt
    f0_wide = np.concatenate(f0_wide)
    floor, ceiling = pitch.utterance_range(f0_wide)
    mel_mean = (mel_sum / mel_count).float()[:, None]

    # Pass 2: Praat's second pass, content units, speaker pooling sums.
    f0_parts, unit_parts, h_sum, h_sq, h_count = [], [], 0.0, 0.0, 0
    narrow = (floor, ceiling) != (pitch.WIDE_FLOOR, pitch.WIDE_CEILING)
    for s, e in _blocks(n, block):
        if narrow:
            f0_parts.append(praat_block(s, e, floor, ceiling))
        else:  # as extract_f0: a first pass that keeps the wide range is the track
            f0_parts.append(f0_wide[s // hop : s // hop + pitch.num_frames(e - s)])
        a, b = max(0, s - cm), min(n, e + cm)
        logits = content(torch.from_numpy(rd.read(a, b))[None])[0]
        k0 = (s - a) // cfg.unit_hop
        # Each block is one packet, so the rate-distortion search (per packet) is the whole file's.
        unit_parts.append(codec.choose_units(logits[:, k0 : k0 + -(-(e - s) // cfg.unit_hop)], unit_lambda,
                                             packet_frames))
        if speaker_id is None:
            logmel, off, cnt = mel_frames(s, e)
            h = spk.convs((logmel - mel_mean)[None])[0, :, off : off + cnt].double()
            h_sum, h_sq, h_count = h_sum + h.sum(dim=1), h_sq + (h * h).sum(dim=1), h_count + cnt
    f0 = np.concatenate(f0_parts).astype(np.float32)
    units = np.concatenate(unit_parts)

    # F0 codes: normalised over the whole file, coded in windows of one packet.
    lf0, voiced, stats = pitch.normalise(f0)
    x = codec.f0vq.make_input(torch.from_numpy(lf0)[None], torch.from_numpy(voiced)[None])
    n_f0 = -(-n // cfg.f0_hop)
    per = block // hop  # 100 Hz frames per packet (a multiple of 8)
    codes = []
    for s in range(0, x.shape[-1], per):
        a = max(0, s - F0VQ_MARGIN)
        b = min(x.shape[-1], s + per + F0VQ_MARGIN)
        c = codec.f0vq.encode(x[..., a:b])[0]
        codes.append(c[(s - a) // 8 : (s - a) // 8 + -(-min(per, x.shape[-1] - s) // 8)])
    codes = torch.cat(codes).to(torch.int32).numpy()
    codes = np.pad(codes[:n_f0], (0, max(0, n_f0 - codes.size)), mode="edge")

    spk_cfg = spk.config
    if speaker_id is not None:
        if not 0 <= speaker_id < spk_cfg.num_speakers:
            raise ModelError(f"speaker ID {speaker_id} outside this model's {spk_cfg.num_speakers} known speakers")
        speaker = SpeakerCode.known(speaker_id, spk_cfg.num_speakers)
    else:
        mean = h_sum / h_count
        std = torch.sqrt(torch.clamp((h_sq - h_count * mean * mean) / (h_count - 1), min=0.0))
        vec = spk.proj(torch.cat([mean, std]).float()[None])
        speaker = SpeakerCode.vector(spk.quantize(vec)[0].numpy(), spk_cfg.codebook_size)
    streams = Streams(
        units=units,
        f0=codes,
        speaker=speaker,
        num_samples=n,
        sample_rate=sr,
        unit_hop=cfg.unit_hop,
        f0_hop=cfg.f0_hop,
        unit_vocab=codec.tables.units.vocab,
        f0_vocab=codec.tables.f0.vocab,
        model_id=codec.model_id,
        pitch_stats=codec.pitch_stats_code(stats),
    )
    gain = gain_code(active_level(np.concatenate(powers)), _vocoder_level(codec, streams, packet_frames))
    streams = dataclasses.replace(streams, gain=gain)
    if not codec.wants_envelope(envelope):
        return streams
    layer = codec.envelope
    codes, out_powers = _envelope_codes(codec, streams, rd, packet_frames, envelope_lambda)
    gain = level_corrected_gain(gain, active_level(np.concatenate(powers)), active_level(out_powers))
    return dataclasses.replace(streams, envelope=codes, envelope_vocab=layer.config.size,
                               envelope_hop=layer.config.frame_samples, gain=gain)


def _envelope_codes(codec, streams: Streams, rd: BlockReader, packet_frames: int,
                    lam: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The envelope codes :meth:`codec.api.Codec.add_envelope` would send, in bounded memory, and
    the frame powers of the decode they make (for its gain correction): the decode is streamed
    packet by packet with its whole receptive field as context (so each packet's audio is the
    whole-file decode's), and packet ``p``'s codes are measured on the audio of packets
    ``p - 1 .. p + 1`` (the STFT frames of ``p`` see real neighbours, as in the whole file). The
    codes are chosen packet by packet (:meth:`codec.api.Codec.envelope_codes` at ``lam``), as the
    whole-file encoder chooses them."""
    from .streaming import stream_decode

    layer = codec.envelope
    step = layer.config.frame_samples
    data = write_srb(streams, codec.tables, packet_frames)
    chunks = stream_decode(codec, data, lookahead=codec.context_frames())
    recent: list = []  # the last three packets' AudioChunks
    codes: list[np.ndarray] = []
    powers: list[np.ndarray] = []

    def measure(i: int) -> None:  # packet recent[i]'s frames, from the chunks around it
        seg = recent[max(0, i - 1) : i + 2]
        a = seg[0].start_sample
        b = seg[-1].start_sample + seg[-1].audio.size
        audio = np.concatenate([c.audio for c in seg])
        starts = [(ch.start_sample - a) // step for ch in seg]
        seg_codes = codec.envelope_codes(layer.corrections(rd.read(a, b), audio), lam=lam, starts=starts)
        c = recent[i]
        e0, e1 = c.start_sample // step, -(-(c.start_sample + c.audio.size) // step)
        codes.append(seg_codes[e0 - a // step : e1 - a // step])
        corrected = np.clip(layer.apply(audio, seg_codes), -1.0, 1.0)
        powers.append(frame_powers(corrected[c.start_sample - a :][: c.audio.size]))

    for chunk in chunks:
        recent = (recent + [chunk])[-3:]
        if len(recent) >= 2:
            measure(len(recent) - 2)
    if recent:
        measure(len(recent) - 1)
    if not codes:
        return np.zeros(0, np.int32), np.zeros(0)
    return np.concatenate(codes), np.concatenate(powers)


def _vocoder_level(codec, streams: Streams, packet_frames: int) -> float | None:
    """:meth:`codec.api.Codec.vocoder_level` packet by packet (bounded memory): the vocoder alone
    and the band refiner if the codec has one, with their whole receptive field as context, so each
    packet's audio is the whole-file output's."""
    from .streaming import stream_decode

    bare = codec.vocoder_only()
    bare.refiner = codec.refiner
    bare.apply_gain = False
    data = write_srb(streams, codec.tables, packet_frames)
    chunks = stream_decode(bare, data, lookahead=codec.context_frames())  # audio a packet at a time
    return active_level(np.concatenate([frame_powers(c.audio) for c in chunks]))


def encode_file_stream_bytes(codec, path, speaker_id: int | None = None, unit_lambda: float | None = None,
                             packet_frames: int | None = None, envelope: bool | None = None,
                             envelope_lambda: float | None = None, narrowband: bool | None = None) -> bytes:
    """:func:`encode_file_stream`, written as ``.srb`` bytes."""
    packet_frames = codec.packet_frames(packet_frames)
    return codec.write(encode_file_stream(codec, path, speaker_id, unit_lambda, packet_frames, envelope,
                                          envelope_lambda, narrowband), packet_frames)
