"""srb and Codec2 on speech in background noise, judged against the clean original.

    python -m benchmarks.noise --data ../shared/data/dev --every 4 --conditions clean,babble/10,babble/5,pink/10,pink/5 \
        --systems input,srb,codec2-700C --asr packed --out benchmarks/results/noise-dev.md

Each file is mixed with noise (``codec.train.noise``: white, pink, brown, or babble made of other
files of the same split, never the file's own speaker when the manifest names speakers) at an SNR
of the speech's active level over the noise power (condition KIND/SNR), or played in a synthetic
room (``reverb/RT60`` in ms: ``codec.train.noise.reverberate``, direct path 3 dB above the
reverberation, same active level), or through a narrower channel (``band/RATE``: resampled to
RATE Hz and back, e.g. ``band/8000`` for a telephone line's 4 kHz), or through a landline as
G.711 codes it (``phone/8000``: 300-3400 Hz, 8-bit mu-law samples), then coded by each system; every output is
scored against the *clean* file with the report's judges (STOI, MCD, DNSMOS, Praat F0 errors,
Whisper base word errors against the transcripts, Resemblyzer speaker cosine). ``input`` is the noisy mixture itself, not
coded: what a listener would get from an uncoded line; ``srb/wide`` and ``srb/narrow`` are srb
with its wideband or its narrowband encoders whatever the input (:mod:`codec.narrowband`). For srb two more columns: *units kept*,
the share of content units its encoder chooses on the noisy mixture that it chose on the clean
file (the content encoder's robustness, before any decoding), and bits/s. A unit codec resynthesises
speech from what it recognised, so noise it does not recognise is not sent at all; Codec2 codes
whatever it hears. The noise is seeded per file and condition: every system gets the same mixture.
The report ends with each system paired file by file with ``--paired-against`` (default Codec2
700C) in each condition (:func:`benchmarks.paired.paired_bootstrap`: 95 % intervals over files
resampled with replacement).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import dev_script
from benchmarks.markdown import emit


def parse_conditions(text: str) -> list[tuple[str, float | None]]:
    """``"clean,babble/10,reverb/600"`` -> ``[("clean", None), ("babble", 10.0), ("reverb", 600.0)]``
    (KIND/SNR in dB for noise, reverb/RT60 in ms for a room, band/RATE in Hz for a channel,
    phone/RATE for a G.711 landline)."""
    out = []
    for part in text.split(","):
        if part == "clean":
            out.append(("clean", None))
        else:
            kind, snr = part.split("/")
            out.append((kind, float(snr)))
    return out


def noisy_versions(items, refs, conditions, talkers_per_file: int = 5) -> dict[str, list[np.ndarray]]:
    """``{condition name: [mixture per item]}``; mixtures peak-limited to 0.99 (scaled, not clipped)."""
    from codec.train.noise import condition_version

    out = {}
    for kind, snr in conditions:
        name = "clean" if snr is None else f"{kind}/{snr:g}"
        mixes = []
        for i, (it, x) in enumerate(zip(items, refs)):
            if snr is None:
                mixes.append(x)
                continue

            def talkers_for(rng, i=i, it=it):  # babble: other speakers' files
                if kind != "babble":
                    return None
                others = [j for j, o in enumerate(items) if j != i and o.speaker != it.speaker]
                return [refs[j] for j in rng.choice(others, size=min(talkers_per_file, len(others)), replace=False)]

            y = condition_version(x, it.key, kind, snr, talkers_for)
            peak = float(np.max(np.abs(y)))
            mixes.append(y * (0.99 / peak) if peak > 0.99 and kind != "reverb" else y)
        out[name] = mixes
    return out


#: srb as it encodes (``srb``: the input's bandwidth picks the encoders), with its wideband
#: encoders whatever the input (``srb/wide``: a bundle's narrowband pair left unused), with its
#: narrowband pair whatever the input (``srb/narrow``), and without the input's high-pass
#: (``srb/no-highpass``: :data:`codec.audio.HIGHPASS_HZ`): ``(narrowband, high-pass on)``.
SRB_SYSTEMS = {"srb": (None, True), "srb/wide": (False, True), "srb/narrow": (True, True),
               "srb/no-highpass": (None, False)}


def paired_lines(files: dict, against: str, words: bool) -> list[str]:
    """Every coded system minus ``against`` per condition, paired over files (markdown lines)."""
    from benchmarks.paired import markdown, paired_bootstrap

    keys = ["stoi", "mcd", "dnsmos", "gpe", "vde", "spk_cos"] + (["wer", "wer_cap"] if words else [])
    lines = []
    for cond in dict.fromkeys(c for c, _ in files):
        if (cond, against) not in files:
            continue
        paired = {system: paired_bootstrap(rows, files[cond, against], keys)
                  for (c, system), rows in files.items() if c == cond and system not in (against, "input")}
        section = markdown(paired, against, from_results=False)
        if section:
            lines += ["", section[0] + f": {cond}", *section[1:]]
    return lines


def main(argv=None) -> int:
    ap = dev_script.parser(__doc__, every=4)
    ap.add_argument("--conditions", default="clean,babble/10,babble/5,pink/10,pink/5")
    ap.add_argument("--systems", default="input,srb,codec2-700C")
    ap.add_argument("--paired-against", default="codec2-700C",
                    help="the system every other coded one is paired with, per condition ('' for none)")
    ap.add_argument("--highpass", type=float, default=None,
                    help="the input high-pass cutoff in Hz for srb (default: the codec's)")
    dev_script.add_judges(ap, "condition and system")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    codec, items = dev_script.start(args)
    highpass = codec.input_highpass if args.highpass is None else args.highpass
    codec.input_highpass = highpass
    from benchmarks.metrics import SpeakerSimilarity
    from benchmarks.peers import peer_systems
    from benchmarks.render_scores import RenderScorer
    from benchmarks.report import read_audio

    refs = [read_audio(it.path) for it in items]
    versions = noisy_versions(items, refs, parse_conditions(args.conditions))
    peers = peer_systems()
    scorer = RenderScorer(items, refs, refs, asr=args.asr, distillmos=args.distillmos)
    judge = SpeakerSimilarity()
    ref_voice = [judge.embed(x) for x in refs]
    clean_units = [codec.encode_streams(x, codec.sample_rate).units for x in refs]
    seconds = sum(len(x) for x in refs) / codec.sample_rate
    rows, files = [], {}
    for cond, mixes in versions.items():
        for system in args.systems.split(","):
            extra = ""
            if system == "input":
                outs = mixes
            elif system in SRB_SYSTEMS:
                kept = total = bits = 0
                outs = []
                narrowband, filtered = SRB_SYSTEMS[system]
                codec.input_highpass = highpass if filtered else None
                for x, u in zip(mixes, clean_units):
                    streams = codec.encode_streams(x, codec.sample_rate, narrowband=narrowband)
                    bits += 8 * len(codec.write(streams))
                    n = min(len(streams.units), len(u))
                    kept += int(np.sum(streams.units[:n] == u[:n]))
                    total += n
                    outs.append(codec.decode_streams(streams))
                codec.input_highpass = highpass
                extra = f" {100 * kept / max(1, total):.1f} % | {bits / seconds:.1f} |"
            else:
                outs = [peers[system].run(x).wav for x in mixes]
            r = scorer.score(outs)
            cosines = [judge.cosine(v, judge.embed(y)) for v, y in zip(ref_voice, outs)]
            voice = np.mean(cosines)
            files[cond, system] = [{**f, "spk_cos": float(c)} for f, c in zip(scorer.files, cosines)]
            rows.append(f"| {cond} | {system} " + scorer.row(r) + f" {voice:.3f} |" + (extra or " – | – |"))
            print(rows[-1], flush=True)
    lines = [
        "# srb and Codec2 in background noise, against the clean original",
        "",
        f"`python -m benchmarks.noise --data {args.data} --every {args.every} --conditions {args.conditions} "
        f"--systems {args.systems}{dev_script.judges_flags(args)}{f' --model {args.model}' if args.model else ''}"
        f"{f' --paired-against {args.paired_against}' if args.paired_against != 'codec2-700C' else ''}"
        f"{f' --highpass {args.highpass:g}' if args.highpass is not None else ''}` "
        f"(model {codec.model_id:08x}, " + (f"input high-pass {highpass:g} Hz" if highpass else "no input high-pass")
        + (f", narrowband encoders for a high band under {codec.narrowband.config.high_below_db:g} dB"
           if codec.narrowband else "")
        + f"; {len(items)} files, "
        f"{seconds:.0f} s; {time.perf_counter() - t0:.0f} s). Condition KIND/SNR: noise of that kind "
        "(codec/train/noise.py; hum50, hum60: mains hum, the tone and two harmonics) at that SNR in dB (the speech's active level over the noise's power); reverb/RT60: a "
        "synthetic room; band/RATE: through a channel sampled at RATE Hz, no noise; phone/RATE: a G.711 landline "
        "(300-3400 Hz, 8-bit mu-law at RATE Hz). *input*: the "
        "noisy mixture itself, uncoded. *units kept*: share of srb's content units on the mixture equal to those on "
        "the clean file. GPE columns: the Praat judge on the clean original against each output. *speaker cos*: "
        "Resemblyzer's cosine between the clean original and the output.",
        "",
        "| condition | system " + scorer.header() + " speaker cos | units kept | bits/s |",
        "|---|---|" + "---:|" * 14,
        *rows,
    ]
    lines += paired_lines(files, args.paired_against, args.asr is not None)
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
