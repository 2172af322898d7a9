"""``Codec``: audio <-> ``.srb`` bytes with a model bundle loaded once.

    >>> codec = Codec.from_pretrained()             # the bundled default          # doctest: +SKIP
    >>> data = codec.encode("speech.wav")           # bytes of an .srb file        # doctest: +SKIP
    >>> wav, sample_rate = codec.decode(data)       # (N,) float32 numpy, 16000    # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from bitstream import LostSpan, SpeakerCode, SrbError, SrbFormatError, SrbModelMismatchError, Streams, read_srb, write_srb
from bitstream.container import MAX_PACKET_FRAMES, peek_model_id

from . import pitch
from .audio import HIGHPASS_HZ, load_audio
from .bandwidth import high_band_db
from .bundle import load_bundle, load_render
from .earlier_layers import earlier_layers, reading_tables
from .envelope import EnvelopeLayer
from .errors import ModelError
from .level import active_level, frame_powers, gain_code, gain_factor, level_corrected_gain
from .narrowband import NarrowbandEncoders
from .postfilter import Postfilter, PostfilterConfig
from .refiner import BandRefiner
from .resynth import Resynth, ResynthConfig, resynth_contour, resynth_range
from .smoother import EnvelopeSmoother, SmootherConfig
from .unit_rdo import RateModel, choose_units

DEFAULT_MODEL = "default"


def bundled_models() -> dict[str, Path]:
    """Names of the bundles shipped inside the package, and their folders."""
    root = Path(str(resources.files("codec") / "assets"))
    return {p.name: p for p in sorted(root.iterdir()) if (p / "bundle.json").is_file()} if root.is_dir() else {}


def bundle_folder(name_or_path: str | Path | None = None) -> Path:
    """The folder of a bundle: ``None`` for srb's default, a bundled name, or a bundle folder.

    Raises:
        ModelError: neither a folder nor a bundled name.
    """
    target = name_or_path or DEFAULT_MODEL
    path = Path(target)
    if path.is_dir():
        return path
    shipped = bundled_models()
    if str(target) not in shipped:
        raise ModelError(f"unknown model {str(target)!r}: not a folder, and srb ships {sorted(shipped) or 'none'}")
    return shipped[str(target)]


class Codec:
    """A loaded model bundle.

    Args:
        config, modules, tables, model_id: what :func:`codec.bundle.load_bundle` returns.
        postfilter: the :class:`codec.postfilter.PostfilterConfig` decoded audio is finished
            with, or ``None`` for the vocoder's output as it is.
        resynth: the :class:`codec.resynth.ResynthConfig` that re-voices the decoded audio at
            the file's F0 contour (files that carry pitch statistics), or ``None``.
        smoother: the :class:`codec.smoother.SmootherConfig` that steadies the finished audio's
            band envelopes, or ``None``.
        refiner: the trained :class:`codec.refiner.BandRefiner` that moves the finished audio's band
            levels towards the original's (after the smoother), or ``None``.
        gain: apply the output gain files carry (format 1.3: the input's loudness, see
            :mod:`codec.level`); ``False`` leaves the output at the vocoder's own level.
        envelope: apply the band-level corrections files of a bundle with an envelope layer carry
            (:mod:`codec.envelope`; format 1.4); ``False`` decodes as if they had none.
        narrowband: the bundle's encoders for band-limited input (:mod:`codec.narrowband`), or
            ``None``: every input is analysed by ``modules``' content and speaker encoders.

    A bundle with an envelope layer (``bundle.json``'s ``envelope``) writes it into every file
    unless told not to (``encode(..., envelope=False)``), and reads files with and without it.
    """

    def __init__(self, config, modules: dict, tables, model_id: int, postfilter: PostfilterConfig | None = None,
                 resynth: ResynthConfig | None = None, gain: bool = True, smoother: SmootherConfig | None = None,
                 refiner: BandRefiner | None = None, envelope: bool = True,
                 narrowband: NarrowbandEncoders | None = None):
        self.config = config
        self.content = modules["content"]
        self.f0vq = modules["f0vq"]
        self.speaker = modules["speaker"]
        self.narrowband = narrowband
        self.decoder = modules["decoder"]
        self.tables = tables
        self.model_id = model_id
        # Files this codec decodes: its own, and those of the bundles it names as sharing its streams.
        self.decodable_ids = (model_id, *(int(i, 16) for i in config.decodes))
        self.sample_rate = config.sample_rate
        for name, stage in (("postfilter", postfilter), ("pitch resynthesis", resynth), ("envelope smoother", smoother),
                            ("band refiner", refiner)):
            if stage is not None and stage.sample_rate != config.sample_rate:
                raise ModelError(f"{name} for {stage.sample_rate} Hz, model at {config.sample_rate} Hz")
        self.postfilter = Postfilter(postfilter) if postfilter is not None and postfilter.strength != 1.0 else None
        self.resynth = Resynth(resynth) if resynth is not None else None
        self.smoother = EnvelopeSmoother(smoother) if smoother is not None and smoother.depth > 0 else None
        self.refiner = refiner if refiner is not None and refiner.config.scale > 0 else None
        self.apply_gain = bool(gain)
        self.envelope = EnvelopeLayer(config.envelope) if config.envelope is not None else None
        if self.envelope is not None and tables.envelope is None:
            raise ModelError("the bundle names an envelope layer, but its tables have no envelope table")
        self.apply_envelope = bool(envelope)
        # Files of the bundles this one decodes were coded with these tables less the envelope's
        # (whose id they name, or imply in the header CRC), or with an earlier layer's.
        self.layers = {model_id: self.envelope} if self.envelope is not None else {}
        try:
            earlier = earlier_layers(tables, config.envelope_earlier)
            self.reading_tables = reading_tables(tables, earlier)
            for mid, (_, fields) in earlier.items():
                if mid not in self.decodable_ids[1:]:
                    raise ValueError(f"model {mid:08x} is not among the models it decodes")
                self.layers[mid] = EnvelopeLayer(fields)
        except (ValueError, KeyError, TypeError, SrbError) as exc:
            raise ModelError(f"bundle's envelope_earlier: {exc}") from exc
        self.unit_lambda = 0.0
        # The input's high-pass cutoff in Hz (codec.audio.HIGHPASS_HZ; None: none). Outside the model
        # id: it changes what the encoder hears, not what the streams mean.
        self.input_highpass = HIGHPASS_HZ
        self._rate = None  # the unit tables' code lengths, built on first use
        # The envelope codes' rate-distortion trade-off (codec.frame_rdo), the bundle's by default.
        self.envelope_lambda = self.envelope.config.lam if self.envelope is not None else 0.0
        self._envelope_bits = None  # the envelope table's code lengths, built on first use

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path | None = None,
                        postfilter: bool | PostfilterConfig = True,
                        resynth: bool | ResynthConfig = True, gain: bool = True,
                        smoother: bool | SmootherConfig = True, refiner: bool = True,
                        envelope: bool = True, narrowband: bool = True) -> "Codec":
        """Load a bundle: ``None`` for srb's default, a bundled name, or a bundle folder.

        Args:
            name_or_path: which bundle.
            postfilter: ``True`` for the bundle's own setting (its ``render.json``; none if it
                has none), ``False`` for none, or a :class:`~codec.postfilter.PostfilterConfig`.
            resynth: the same for the pitch resynthesis (:class:`~codec.resynth.ResynthConfig`).
            gain: apply the gain files carry (the input's loudness); ``False``: the vocoder's level.
            smoother: the same as ``postfilter`` for the envelope smoother
                (:class:`~codec.smoother.SmootherConfig`).
            refiner: the bundle's band refiner (``render.json`` and ``refiner.safetensors``), if it
                has one; ``False`` for none.
            envelope: apply the envelope layer's corrections files carry; ``False`` ignores them
                (the encoder still writes them).
            narrowband: load the bundle's encoders for band-limited input, if it has them
                (:mod:`codec.narrowband`); ``False``: analyse every input with the wideband pair.

        Raises:
            ModelError: unknown name, or a folder that is not a valid bundle.
        """
        path = bundle_folder(name_or_path)
        render = load_render(path)
        if postfilter is True:
            postfilter = render.postfilter
        if resynth is True:
            resynth = render.resynth
        if smoother is True:
            smoother = render.smoother
        band_refiner = BandRefiner.load(path, render.refiner) if refiner and render.refiner is not None else None
        loaded = load_bundle(path)
        modules = loaded[1]
        narrow = NarrowbandEncoders.load(path, modules["content"], modules["speaker"]) if narrowband else None
        return cls(*loaded, postfilter=postfilter or None, resynth=resynth or None, gain=gain,
                   smoother=smoother or None, refiner=band_refiner, envelope=envelope, narrowband=narrow)

    def vocoder_only(self) -> "Codec":
        """A shallow copy that decodes with the vocoder alone: no postfilter, pitch resynthesis,
        envelope smoother, band refiner or envelope corrections (the gain setting is kept). Shares
        the loaded models."""
        bare = copy.copy(self)
        bare.postfilter, bare.resynth, bare.smoother, bare.refiner = None, None, None, None
        bare.apply_envelope = False
        return bare

    def context_frames(self) -> int:
        """Unit frames of context either side that make a decoded window exact (vocoder,
        postfilter, envelope smoother and band refiner, :func:`codec.synth.receptive_field_frames`)."""
        from .synth import receptive_field_frames

        return receptive_field_frames(self.decoder, self.postfilter, self.smoother, self.refiner,
                                      self.envelope if self.apply_envelope else None)

    # -- audio -> streams -> bytes ------------------------------------------------------------

    @torch.inference_mode()
    def encode_streams(self, audio, sample_rate: int | None = None, speaker_id: int | None = None,
                       unit_lambda: float | None = None, packet_frames: int | None = None,
                       envelope: bool | None = None, envelope_lambda: float | None = None,
                       max_bitrate: float | None = None, narrowband: bool | None = None) -> Streams:
        """Analyse speech into :class:`bitstream.Streams`.

        Args:
            audio: path, numpy array or torch tensor (see :func:`codec.audio.load_audio`).
            sample_rate: for array/tensor input.
            speaker_id: send this known speaker's ID instead of an embedding of the voice.
            unit_lambda: the units' rate-distortion trade-off (:mod:`codec.unit_rdo`; 0 = each
                frame's most likely unit); ``None``: :attr:`unit_lambda`.
            packet_frames: the packet length the streams will be written with (the rate search
                works per packet); ``None``: the bundle's (100 frames, 2 s).
            envelope: send the envelope layer (:mod:`codec.envelope`: the encoder decodes its own
                streams and measures the band levels against the input); ``None``: when the
                bundle has one. About 140 bits/s more with srb-v0.7 (docs/ENVELOPE.md).
            envelope_lambda: the envelope codes' rate-distortion trade-off in dB^2 per bit
                (:mod:`codec.frame_rdo`; 0 = each frame's nearest vector); ``None``:
                :attr:`envelope_lambda`, the bundle's.
            max_bitrate: keep the file at or under this many bits per second (everything included,
                packets of ``packet_frames``) by trading the envelope layer's accuracy for bits, and
                leaving it out if that is not enough (:meth:`add_envelope`); a file still over it is
                returned as it is (its :meth:`bitrate` tells). ``None``: no limit.
            narrowband: analyse with the bundle's narrowband encoders (``True``), its wideband
                ones (``False``), or as the input's measured spectrum says (``None``, see
                :meth:`encoders`).
        """
        wav = load_audio(audio, sample_rate, self.sample_rate, self.input_highpass)
        n = wav.numel()
        content, speaker_encoder = self.encoders(lambda: high_band_db(wav.numpy(), self.sample_rate), narrowband)
        units = self.choose_units(content(wav[None])[0], unit_lambda, packet_frames)
        f0 = pitch.extract_f0(wav.numpy(), self.sample_rate)
        lf0, voiced, stats = pitch.normalise(f0)
        x = self.f0vq.make_input(torch.from_numpy(lf0)[None], torch.from_numpy(voiced)[None])
        codes = self.f0vq.encode(x)[0].to(torch.int32).numpy()
        n_f0 = -(-n // self.config.f0_hop)
        codes = np.pad(codes[:n_f0], (0, max(0, n_f0 - codes.size)), mode="edge")
        spk_cfg = self.speaker.config
        if speaker_id is not None:
            if not 0 <= speaker_id < spk_cfg.num_speakers:
                raise ModelError(f"speaker ID {speaker_id} outside this model's {spk_cfg.num_speakers} known speakers")
            speaker = SpeakerCode.known(speaker_id, spk_cfg.num_speakers)
        else:
            vec = speaker_encoder(wav[None])
            speaker = SpeakerCode.vector(speaker_encoder.quantize(vec)[0].numpy(), spk_cfg.codebook_size)
        units = units[: -(-n // self.config.unit_hop)]
        stats = self.pitch_stats_code(stats)
        streams = Streams(
            units=units,
            f0=codes,
            speaker=speaker,
            num_samples=n,
            sample_rate=self.sample_rate,
            unit_hop=self.config.unit_hop,
            f0_hop=self.config.f0_hop,
            unit_vocab=self.tables.units.vocab,
            f0_vocab=self.tables.f0.vocab,
            model_id=self.model_id,
            pitch_stats=stats,
        )
        # One vocoder pass serves both the gain field and the envelope layer's closed loop: the
        # vocoder's output does not depend on the gain, which only scales what follows it.
        vocoded = self.vocode(streams)
        streams = dataclasses.replace(streams, gain=gain_code(active_level(frame_powers(wav.numpy())),
                                                              self.vocoder_level(vocoded)))
        if not self.wants_envelope(envelope):
            return streams
        return self.add_envelope(streams, wav.numpy(), packet_frames, envelope_lambda, max_bitrate, vocoded)

    def encoders(self, high_db: Callable[[], float], narrowband: bool | None = None) -> tuple:
        """The ``(content, speaker)`` encoders that analyse an input whose 5.5-7.5 kHz band
        measures ``high_db()`` (:func:`codec.bandwidth.high_band_db`): the bundle's narrowband pair
        when it has one and that band is empty (:meth:`codec.narrowband.NarrowbandEncoders.applies`),
        else the wideband pair.

        Args:
            high_db: called only when the choice depends on it (a bundle with a pair, and
                ``narrowband`` not given).
            narrowband: ``True`` or ``False`` to choose the pair whatever the measure.

        Raises:
            ModelError: ``narrowband=True`` for a bundle without narrowband encoders.
        """
        if narrowband and self.narrowband is None:
            raise ModelError("this model has no narrowband encoders")
        if narrowband is None:
            narrowband = self.narrowband is not None and self.narrowband.applies(high_db())
        return (self.narrowband.content, self.narrowband.speaker) if narrowband else (self.content, self.speaker)

    def wants_envelope(self, envelope: bool | None) -> bool:
        """Whether an encode asked for ``envelope`` (``None``: the bundle's default) sends the layer.

        Raises:
            ModelError: asked for one from a bundle without an envelope layer.
        """
        if envelope and self.envelope is None:
            raise ModelError("this model has no envelope layer")
        return self.envelope is not None if envelope is None else bool(envelope)

    def add_envelope(self, streams: Streams, original: np.ndarray, packet_frames: int | None = None,
                     lam: float | None = None, max_bitrate: float | None = None,
                     vocoded: np.ndarray | None = None) -> Streams:
        """``streams`` with the envelope codes that move their decode towards ``original``
        (``(num_samples,)`` at the codec's rate): closed loop, on exactly what :meth:`decode_streams`
        makes of them before the corrections (clamped, as the output is), chosen at ``lam``
        (:meth:`envelope_codes`) for packets of ``packet_frames``. The gain field is then
        corrected by how far the corrected decode's active level is from the input's: the
        corrections, in dB per band and frame, need not keep the power-weighted level (the demo
        sample at -20 dB came back 1.9 dB quieter without this).

        With ``max_bitrate`` (bits per second of the whole file, as :meth:`write` writes it), a file
        over it has its codes chosen again at larger trade-offs (``lam`` times ``2 ** (k / 2)``,
        ``k = 1 .. 24``), the first that fits is sent; if none fits, the streams go without the layer.
        ``vocoded``: :meth:`vocode`'s output for ``streams`` when the caller has it (saves a pass)."""
        original = np.asarray(original, np.float32)
        decoded = np.clip(self.render(streams, vocoded), -1.0, 1.0)
        corrections = self.envelope.corrections(original, decoded)
        lam = self.envelope_lambda if lam is None else float(lam)
        trials = [lam] if max_bitrate is None else [lam, *(max(lam, 1.0) * 2 ** (k / 2) for k in range(1, 25))]
        for trade in trials:
            out = self._with_codes(streams, original, decoded, self.envelope_codes(corrections, packet_frames, trade))
            if max_bitrate is None or self.bitrate(out, packet_frames) <= max_bitrate:
                return out
        return streams

    def _with_codes(self, streams: Streams, original: np.ndarray, decoded: np.ndarray, codes: np.ndarray) -> Streams:
        """``streams`` with envelope ``codes`` and the gain field corrected for them (:meth:`add_envelope`)."""
        out = dataclasses.replace(streams, envelope=codes, envelope_vocab=self.envelope.config.size,
                                  envelope_hop=self.envelope.config.frame_samples)
        if streams.gain is None:
            return out
        level = active_level(frame_powers(np.clip(self.envelope.apply(decoded, codes), -1.0, 1.0)))
        return dataclasses.replace(out, gain=level_corrected_gain(streams.gain, active_level(frame_powers(original)),
                                                                  level))

    def bitrate(self, streams: Streams, packet_frames: int | None = None) -> float:
        """Bits per second of ``streams`` written as :meth:`write` writes them, everything included."""
        seconds = max(streams.num_samples, 1) / streams.sample_rate
        return 8 * len(self.write(streams, packet_frames)) / seconds

    def envelope_codes(self, corrections: np.ndarray, packet_frames: int | None = None,
                       lam: float | None = None, starts=None) -> np.ndarray:
        """``(T_e, bands)`` corrections in dB -> ``(T_e,)`` the envelope codes sent for them.

        Args:
            corrections: from :meth:`codec.envelope.EnvelopeLayer.corrections`, starting on a packet.
            packet_frames: unit frames per packet (``None``: the bundle's); the rate-distortion
                search restarts its context at each packet, as the coder does.
            lam: dB^2 per bit; ``None``: :attr:`envelope_lambda`.
            starts: the frames where packets start, instead of every ``packet_frames``.
        """
        lam = self.envelope_lambda if lam is None else float(lam)
        if lam == 0:
            return self.envelope.quantize(corrections)
        if self._envelope_bits is None:
            from .frame_rdo import code_lengths

            self._envelope_bits = code_lengths(self.tables.envelope)
        if starts is None:
            per = self.packet_frames(packet_frames) // self.envelope.config.ratio
            starts = np.arange(0, len(corrections), per)
        return self.envelope.quantize(corrections, lam, self._envelope_bits, starts)

    def vocoder_level(self, vocoded: np.ndarray) -> float | None:
        """Active level (dB, :func:`codec.level.active_level`) of the vocoder's output
        (``vocoded``, from :meth:`vocode`), through the band refiner when this codec has one: what
        the encoder measures the input against for the gain field. The postfilter and the envelope
        smoother keep band powers and the pitch resynthesis keeps the envelope, so they are left out
        (measured on 40 train files: the full decode within -0.48..+0.17 dB of the input's level,
        benchmarks/results/level-train*.md); the refiner does not (it cuts loud frames more than it
        raises quiet ones: about -1 dB on dev, docs/REFINER.md), so it is in."""
        wav = vocoded
        if self.refiner is not None:
            wav = self.refiner(torch.from_numpy(wav)).numpy()
        return active_level(frame_powers(np.clip(wav, -1.0, 1.0)))  # as the decoder's output is clipped

    def choose_units(self, logits: torch.Tensor, unit_lambda: float | None = None,
                     packet_frames: int | None = None) -> np.ndarray:
        """``(K, T)`` content logits -> ``(T,)`` int32 units, chosen at ``unit_lambda`` nats per
        bit (``None``: :attr:`unit_lambda`) under this bundle's unit tables (:mod:`codec.unit_rdo`)
        for packets of ``packet_frames`` (``None``: the bundle's)."""
        lam = self.unit_lambda if unit_lambda is None else float(unit_lambda)
        packet_frames = self.packet_frames(packet_frames)
        if lam == 0:
            return logits.argmax(dim=0).to(torch.int32).numpy()
        if self._rate is None:
            self._rate = RateModel(self.tables.units)
        log_probs = torch.log_softmax(logits.float(), dim=0).T.numpy()
        return choose_units(log_probs, self._rate, lam, packet_frames)

    def packet_frames(self, packet_frames: int | None = None) -> int:
        """``packet_frames``, checked (whole F0 frames, at most the format's 1024), or the bundle's.

        Raises:
            ModelError: a length this model's files cannot have.
        """
        if packet_frames is None:
            return self.config.packet_frames
        ratio = self.config.f0_hop // self.config.unit_hop
        if not (isinstance(packet_frames, int) and 1 <= packet_frames <= MAX_PACKET_FRAMES
                and packet_frames % ratio == 0):
            raise ModelError(f"packets must hold a multiple of {ratio} unit frames, at most {MAX_PACKET_FRAMES} "
                             f"({self.config.f0_hop / self.sample_rate:g} to "
                             f"{MAX_PACKET_FRAMES // ratio * self.config.f0_hop / self.sample_rate:g} s), "
                             f"got {packet_frames!r}")
        return packet_frames

    def pitch_stats_code(self, stats: pitch.F0Stats) -> tuple[int, int] | None:
        """What the streams carry of the utterance's pitch statistics: their two bytes (16 bits
        per file) whenever something is voiced, for any decoder: the pitch resynthesis
        (:mod:`codec.resynth`) and decoders trained with them use them, others ignore them."""
        return pitch.stats_code(stats)

    def encode(self, audio, sample_rate: int | None = None, speaker_id: int | None = None,
               unit_lambda: float | None = None, packet_frames: int | None = None,
               envelope: bool | None = None, envelope_lambda: float | None = None,
               max_bitrate: float | None = None, narrowband: bool | None = None) -> bytes:
        """Speech -> bytes of an ``.srb`` file. Same input, same bytes. Arguments as
        :meth:`encode_streams`; longer packets than the bundle's 2 s cost fewer bits (framing
        and context restarts) but delay streamed decoding and lose more audio per lost packet."""
        packet_frames = self.packet_frames(packet_frames)
        streams = self.encode_streams(audio, sample_rate, speaker_id, unit_lambda, packet_frames, envelope,
                                      envelope_lambda, max_bitrate, narrowband)
        return self.write(streams, packet_frames)

    def write(self, streams: Streams, packet_frames: int | None = None) -> bytes:
        """Streams -> ``.srb`` bytes as this codec writes them: its tables, left to the model id
        in the header (format 1.3), packets of ``packet_frames`` (``None``: the bundle's)."""
        return write_srb(streams, self.tables, self.packet_frames(packet_frames), model_tables=True)

    def encode_stream(self, path, speaker_id: int | None = None, unit_lambda: float | None = None,
                      packet_frames: int | None = None, envelope: bool | None = None,
                      envelope_lambda: float | None = None, narrowband: bool | None = None) -> bytes:
        """Like :meth:`encode` for a file, read in blocks: memory stays bounded however long the
        file (see :mod:`codec.stream_encode` for how, and for what may differ from :meth:`encode`)."""
        from .stream_encode import encode_file_stream_bytes

        return encode_file_stream_bytes(self, path, speaker_id, unit_lambda, self.packet_frames(packet_frames),
                                        envelope, envelope_lambda, narrowband)

    # -- bytes -> streams -> audio ------------------------------------------------------------

    def check_model(self, model_id: int) -> None:
        """Refuse streams this codec cannot decode: those of a model other than itself and the
        earlier models it shares its streams with (``bundle.json``'s ``decodes``)."""
        if model_id not in self.decodable_ids:
            also = f" (and files of {', '.join(f'{i:08x}' for i in self.decodable_ids[1:])})" \
                if len(self.decodable_ids) > 1 else ""
            raise SrbModelMismatchError(f"streams are from model {model_id:08x}, this is {self.model_id:08x}{also}")

    def _read(self, data: bytes) -> Streams:
        """``read_srb`` with this codec's tables, where a file of another model that leaves its
        tables to its model (format 1.3), which fails as a header CRC mismatch with tables not
        its own, is named as another model's file."""
        try:
            return read_srb(data, self.reading_tables)
        except SrbModelMismatchError:
            raise
        except SrbFormatError as exc:
            self._name_foreign_model(data, exc)
            raise

    def _name_foreign_model(self, data: bytes, exc: SrbFormatError) -> None:
        model_id = peek_model_id(data)
        if model_id is not None and model_id not in self.decodable_ids:
            raise SrbModelMismatchError(f"streams are from model {model_id:08x}, this is {self.model_id:08x} "
                                        f"(or the header is damaged: {exc})") from exc

    def speaker_vector(self, speaker: SpeakerCode) -> torch.Tensor:
        """``(1, dim)`` vector the decoder is conditioned on, from a transmitted speaker code."""
        idx = torch.from_numpy(speaker.indices.astype(np.int64))
        with torch.inference_mode():
            return self.speaker.known(idx) if speaker.kind == "id" else self.speaker.dequantize(idx[None])

    def decode_streams(self, streams: Streams) -> np.ndarray:
        """:class:`bitstream.Streams` -> ``(num_samples,)`` float32 waveform at ``sample_rate``
        (with the pitch shift the streams ask for, see :mod:`codec.synth`, and the envelope
        layer's corrections when they carry them)."""
        wav = self.render(streams)
        if streams.envelope is not None and self.apply_envelope:
            wav = self.check_envelope(streams).apply(wav, streams.envelope)
        return np.clip(wav, -1.0, 1.0).astype(np.float32)

    def layer_for(self, model_id: int) -> EnvelopeLayer | None:
        """The envelope layer whose codes files of ``model_id`` carry: this model's own, or an
        earlier model's that this one replaced (``bundle.json``'s ``envelope_earlier``)."""
        return self.layers.get(model_id)

    def check_envelope(self, streams) -> EnvelopeLayer:
        """The layer that defines the envelope codes of ``streams`` (a :class:`bitstream.Streams`, or
        a file's header: both have ``model_id``, ``envelope_vocab`` and ``envelope_hop``); refuses
        codes no layer here defines."""
        e = self.layer_for(streams.model_id)
        if e is None or streams.envelope_vocab != e.config.size or streams.envelope_hop != e.config.frame_samples:
            have = "none" if e is None else f"{e.config.size} codes per {e.config.frame_samples} samples"
            raise SrbModelMismatchError(f"streams carry {streams.envelope_vocab} envelope codes per "
                                        f"{streams.envelope_hop} samples; this model's layer for model "
                                        f"{streams.model_id:08x}: {have}")
        return e

    def vocode(self, streams: Streams) -> np.ndarray:
        """The vocoder's own output for ``streams`` (pitch shift included): ``(len(units) *
        unit_hop,)`` float32, before every finishing stage and the output gain."""
        from .synth import synthesize

        self.check_model(streams.model_id)
        spk = self.speaker_vector(streams.speaker)
        return synthesize(self.decoder, streams.units, streams.f0, spk, streams.pitch_cents, streams.pitch_stats)

    def render(self, streams: Streams, vocoded: np.ndarray | None = None) -> np.ndarray:
        """What :meth:`decode_streams` makes of ``streams`` before the envelope corrections and the
        clamp: vocoder, finishing stages, output gain; ``(num_samples,)`` float32. ``vocoded``:
        :meth:`vocode`'s output for ``streams``, when the caller has it."""
        self.check_model(streams.model_id)
        if streams.num_samples == 0:
            return np.zeros(0, np.float32)
        wav = self.vocode(streams) if vocoded is None else vocoded
        if self.postfilter is not None:
            wav = self.postfilter(torch.from_numpy(wav)).numpy()
        wav = wav[: streams.num_samples]
        if self.resynth is not None and streams.pitch_stats is not None:
            wav = self.revoice(wav, streams.f0, streams.pitch_stats, streams.pitch_cents)
        return (self.finish_bands(wav) * self.output_gain(streams.gain)).astype(np.float32)

    def finish_bands(self, audio: np.ndarray) -> np.ndarray:
        """``audio`` through :attr:`smoother` then :attr:`refiner`, the stages before the gain
        (each skipped when there is none)."""
        for stage in (self.smoother, self.refiner):
            if stage is not None:
                audio = stage(torch.from_numpy(np.ascontiguousarray(audio, np.float32))).numpy()
        return audio

    def output_gain(self, gain: int | None) -> float:
        """Amplitude factor for a file's gain field (1.0 without one, or when told to ignore it)."""
        return gain_factor(gain) if self.apply_gain else 1.0

    def revoice(self, audio: np.ndarray, codes: np.ndarray, pitch_stats: tuple[int, int], pitch_cents: int = 0,
                skip: int = 0) -> np.ndarray:
        """``audio`` re-voiced by :attr:`resynth` at the contour of F0 ``codes`` and the file's
        header fields, in the voicing range those give (:mod:`codec.resynth`).

        Args:
            audio: ``(N,)`` decoded samples, starting ``skip`` 10 ms frames after the codes' first frame.
            codes: ``(L,)`` F0 codes covering the audio.
            pitch_stats, pitch_cents: the file's pitch statistics and pitch edit.
            skip: contour frames before the audio (a streamed window decodes its contour from
                earlier codes, for the F0 decoder's context).
        """
        frames = skip + pitch.num_frames(len(audio))
        contour = resynth_contour(self, codes, frames, pitch_stats, pitch_cents)[skip:]
        return self.resynth(audio, contour, resynth_range(pitch_stats, pitch_cents))

    def transmitted_f0(self, streams: Streams) -> np.ndarray:
        """``(ceil(num_samples / 160),)`` F0 in Hz (0 = unvoiced) the streams' F0 codes and pitch
        statistics stand for, with their pitch edit applied (:func:`codec.resynth.transmitted_f0`)."""
        if streams.pitch_stats is None:
            raise ModelError("these streams carry no pitch statistics: their F0 level is unknown")
        return resynth_contour(self, streams.f0, pitch.num_frames(streams.num_samples), streams.pitch_stats,
                               streams.pitch_cents)

    def decode(self, data: bytes) -> tuple[np.ndarray, int]:
        """Bytes of an ``.srb`` file -> ``(waveform, sample_rate)``: ``(N,)`` float32 numpy in
        [-1, 1] and the rate in Hz (16000). Raises :class:`bitstream.SrbFormatError` on any damage
        (see :meth:`decode_lossy` to decode around it)."""
        streams = self._read(data)
        return self.decode_streams(streams), self.sample_rate

    def decode_lossy(self, data: bytes) -> tuple[np.ndarray, int, list[LostSpan]]:
        """Like :meth:`decode`, but damaged or missing packets are concealed instead of raising.

        Returns:
            ``(waveform, sample_rate, lost)``: ``lost`` lists the concealed spans (empty for an
            intact file, whose waveform is then exactly :meth:`decode`'s).

        Raises:
            SrbFormatError: a damaged header, or no packet that could be decoded (the file would
                be silence from end to end: a header alone, or every packet damaged).
        """
        from .streaming import lost_spans, stream_decode

        try:
            return (*self.decode(data), [])
        except SrbModelMismatchError:
            raise
        except SrbFormatError:
            pass
        full = self.context_frames()  # no latency to save here: take exact context
        chunks = list(stream_decode(self, data, lookahead=full))
        lost = lost_spans(chunks)
        if chunks and all(c.lost is not None for c in chunks):
            raise SrbFormatError(f"no packet could be decoded (packets 0-{lost[-1].last_packet}: {lost[0].reason})")
        wav = np.concatenate([c.audio for c in chunks]) if chunks else np.zeros(0, np.float32)
        return wav, self.sample_rate, lost

    def stream_decode(self, source, lookahead: int | None = None, lookbehind: int | None = None):
        """Decode packet by packet with bounded latency: yields :class:`codec.streaming.AudioChunk`.

        Args:
            source: ``.srb`` bytes, a binary file object, or an iterable of byte chunks (e.g. the
                header and then one packet at a time, as they arrive).
            lookahead, lookbehind: unit frames (20 ms) of neighbouring packets' streams used as
                context. Defaults: 300 ms ahead (within 2e-3 of the whole-file output), the
                receptive field behind (:meth:`context_frames`: 38 frames = 760 ms with the shipped
                model, whose band refiner sees 342 ms either side). ``lookahead=context_frames()``
                is exact; less trades accuracy for latency (docs/STREAMING_EDITING.md has the measurements).
        """
        from .streaming import stream_decode

        return stream_decode(self, source, lookahead, lookbehind)
