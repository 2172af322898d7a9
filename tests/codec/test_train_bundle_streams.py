"""``codec.train.bundle_streams``: a bundle's own streams of a split, in the decoder trainer's layout."""

import csv

import numpy as np
import soundfile as sf

from bitstream import read_srb
from codec.api import Codec
from codec.train.bundle_streams import main
from codec.train.decoder import StreamsCorpus
from tests.codec.test_api import speechlike
from tests.codec.tiny_bundle import make_tiny_bundle


def test_streams_are_the_encoders_and_the_trainer_reads_them(tmp_path):
    make_tiny_bundle(tmp_path / "bundle")
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    rows = []
    for i, (spk, seconds) in enumerate([("s1", 1.5), ("s2", 2.3), ("s1", 1.2)]):
        sf.write(data / "a" / f"{i}.wav", speechlike(seconds=seconds, seed=i), 16000)
        rows.append({"path": f"a/{i}.wav", "speaker": spk})
    with open(data / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "speaker"])
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "streams.npz"
    main(["--model", str(tmp_path / "bundle"), "--data", str(data), "--out", str(out)])
    codec = Codec.from_pretrained(tmp_path / "bundle")
    with np.load(out) as z:
        units = np.split(z["units"], z["unit_offsets"][1:-1])
        f0 = np.split(z["f0"], z["f0_offsets"][1:-1])
        assert z["speaker"].tolist() == [0, 1, 0] and z["speaker_names"].tolist() == ["s1", "s2"]
    for i in range(3):
        s = read_srb(codec.encode(data / "a" / f"{i}.wav"), codec.tables)
        assert np.array_equal(units[i], s.units) and np.array_equal(f0[i], s.f0)
    corpus = StreamsCorpus(out, data)
    assert len(corpus) == 3
