"""``codec.train.robust_speaker``: the loss, a tiny run, and the export swapped into a bundle."""

import numpy as np
import pytest
import torch

from codec.api import Codec
from codec.train import bundle as bundle_cli
from codec.train.robust_speaker import main, relative_error
from tests.codec.test_api import speechlike
from tests.codec.test_train_robust_content import write_split
from tests.codec.tiny_bundle import make_tiny_bundle


def test_relative_error_is_scale_free():
    t = torch.randn(4, 16)
    assert relative_error(t, t).item() == 0.0
    assert relative_error(torch.zeros_like(t), t).item() == pytest.approx(1.0)
    assert relative_error(10 * t * 1.1, 10 * t).item() == pytest.approx(relative_error(t * 1.1, t).item(), rel=1e-5)


def test_tiny_run_exports_an_encoder_the_bundle_tool_swaps_in(tmp_path, capsys):
    make_tiny_bundle(tmp_path / "bundle")
    write_split(tmp_path / "data" / "train", 4, 0)
    write_split(tmp_path / "data" / "dev", 3, 10)
    args = ["--model", str(tmp_path / "bundle"), "--data", str(tmp_path / "data"), "--threads", "1", "--dev-every", "1"]
    main(args + ["--eval-only"])
    assert "clean      cosine 1.000  PQ indices 100.0 %" in capsys.readouterr().out
    main(args + ["--out", str(tmp_path / "run"), "--steps", "3", "--batch-size", "2", "--crop-seconds", "0.5",
                 "--log-every", "1", "--lr", "1e-2", "--export", str(tmp_path / "speaker")])
    assert "dev, against the bundle's encoder" in capsys.readouterr().out
    main(args + ["--eval-only", "--student", str(tmp_path / "speaker")])
    assert "pink/5" in capsys.readouterr().out

    bundle_cli.main(["--reuse", str(tmp_path / "bundle"), "--speaker", str(tmp_path / "speaker"),
                     "--out", str(tmp_path / "swapped"), "--name", "robust-voice"])
    old, new = Codec.from_pretrained(tmp_path / "bundle"), Codec.from_pretrained(tmp_path / "swapped")
    for name in ("content.safetensors", "decoder.safetensors", "f0vq.safetensors", "tables.npz"):
        assert (tmp_path / "bundle" / name).read_bytes() == (tmp_path / "swapped" / name).read_bytes()
    assert not torch.equal(old.speaker.convs[0].weight, new.speaker.convs[0].weight)  # it was trained
    assert torch.equal(old.speaker.codebooks, new.speaker.codebooks) and torch.equal(old.speaker.table, new.speaker.table)
    assert new.config.card["speaker_from"].startswith("tiny-test") and new.config.decodes == [f"{old.model_id:08x}"]
    old_file = old.encode(speechlike(1.0, seed=4), 16000)
    assert np.array_equal(new.decode(old_file)[0], old.decode(old_file)[0])
