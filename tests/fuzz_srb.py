"""Long fuzz run of the .srb reader: mutated files must give SrbFormatError or a correct decode.

    python -m tests.fuzz_srb --iterations 1000000 [--seed 0]

Since session 14 half of the files with trained tables carry envelope codes (format 1.4). The normal test run does 10 000 of these (tests/bitstream/test_robustness.py). This script draws
new sample files as it goes (random lengths, alphabets, trained or uniform tables), mutates them,
and calls read_srb, recover_srb and bitrate_report on each. It stops at the first exception that is
not an SrbFormatError and prints the input as hex so it can be turned into a test.
"""

import argparse
import dataclasses
import time

import numpy as np

from bitstream import EntropyTables, Profile, SrbFormatError, bitrate_report, fit_stream_tables, read_srb, recover_srb, write_srb
from tests.bitstream.helpers import random_runs, random_streams
from tests.bitstream.mutations import mutate


def sample(rng):
    unit_vocab = int(rng.choice([1, 2, 50, 100, 1024]))
    f0_vocab = int(rng.choice([1, 21]))
    s = random_streams(rng, int(rng.integers(0, 16000 * 30)), unit_vocab=unit_vocab, f0_vocab=f0_vocab)
    if rng.random() < 0.5:  # format 1.3's output gain
        s = dataclasses.replace(s, gain=int(rng.integers(-128, 128)))
    if rng.random() < 0.5:
        return s, None, write_srb(s, None, int(rng.choice([10, 100])))
    t = EntropyTables(
        fit_stream_tables([random_runs(rng, 3000, unit_vocab)], unit_vocab, packet_frames=100),
        fit_stream_tables([random_runs(rng, 800, f0_vocab, 1.5)], f0_vocab, str(rng.choice(["frame", "runlength"]))),
        Profile(speaker_ids=482),
    )
    if rng.random() < 0.5:  # format 1.4: envelope codes, two unit frames each, in every payload
        vocab = int(rng.choice([1, 64]))
        t = t.with_envelope(fit_stream_tables([rng.integers(0, vocab, 500)], vocab, "frame", packet_frames=50), 2)
        hop = 2 * s.unit_hop
        s = dataclasses.replace(s, envelope=rng.integers(0, vocab, -(-s.num_samples // hop)).astype(np.int32),
                                envelope_vocab=vocab, envelope_hop=hop)
    # half of them leave the tables id to the model (format 1.3): the CRC must still catch damage
    return s, t, write_srb(s, t, int(rng.choice([10, 100])), model_tables=bool(rng.random() < 0.5))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    counts = {"refused": 0, "decoded-correct": 0, "decoded-other": 0}
    for i in range(args.iterations):
        if i % 200 == 0:
            s, t, data = sample(rng)
        bad = mutate(rng, data)
        try:
            for call in (read_srb, recover_srb, bitrate_report):
                try:
                    out = call(bad, t)
                except SrbFormatError:
                    if call is read_srb:
                        counts["refused"] += 1
                    continue
                if call is read_srb:
                    counts["decoded-correct" if out == s else "decoded-other"] += 1
        except Exception:
            print(f"iteration {i}: unexpected exception on input {bad.hex()}")
            raise
        if (i + 1) % 10_000 == 0:
            print(f"{i + 1} inputs, {time.time() - t0:.0f} s: {counts}", flush=True)
    print(f"done: {args.iterations} inputs in {time.time() - t0:.0f} s: {counts}")


if __name__ == "__main__":
    main()
