import json

import numpy as np
import pytest
import torch

from codec.errors import ModelError
from codec.f0vq import F0VQConfig, F0VQVAE, code_frames
from codec.train.f0vq import Contours, code_entropy, evaluate, train, write_codes

TINY = dict(codebook_size=5, hidden=8, code_dim=4, kernel_size=3)


pytestmark = pytest.mark.usefixtures("one_thread")


def contour_input(b=3, t=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    voiced = torch.rand(b, t, generator=g) > 0.3
    return F0VQVAE.make_input(torch.randn(b, t, generator=g), voiced)


def trained_tiny(**over):
    """A tiny model whose codebook is initialised (one training-mode forward)."""
    torch.manual_seed(0)
    m = F0VQVAE.from_config({**TINY, **over})
    m.train()
    m(contour_input(4, 64))
    return m.eval()


@pytest.mark.parametrize("t", [1, 7, 8, 9, 100, 160])
def test_shapes_and_code_range(t):
    m = trained_tiny()
    codes = m.encode(contour_input(2, t))
    assert codes.shape == (2, -(-t // 8)) and codes.dtype == torch.int64
    assert codes.min() >= 0 and codes.max() < 5
    lf0, p = m.decode(codes)
    assert lf0.shape == p.shape == (2, 8 * codes.shape[1])
    assert torch.all((p >= 0) & (p <= 1))


def test_code_count_matches_the_bitstream():
    for n in [1, 159, 160, 1280, 1281, 16000, 123457]:
        t = -(-n // 160)
        assert -(-t // 8) == code_frames(n) == -(-n // 1280)


def test_unvoiced_code():
    m = trained_tiny(unvoiced_code=True)
    assert m.config.num_codes == 6
    x = contour_input(2, 64)
    x[0] = 0  # all unvoiced
    codes = m.encode(x)
    assert torch.all(codes[0] == 0) and codes.max() <= 5
    assert m.decode(codes)[0].shape == (2, 64)


def test_encode_is_deterministic_and_does_not_touch_the_codebook():
    m = trained_tiny()
    m.train()  # even in training mode
    before = {k: v.clone() for k, v in m.state_dict().items()}
    x = contour_input()
    assert torch.equal(m.encode(x), m.encode(x))
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_bad_inputs():
    m = trained_tiny()
    with pytest.raises(ModelError):
        m.decode(torch.tensor([[0, 5]]))
    with pytest.raises(ModelError):
        m(torch.zeros(1, 3, 16))
    with pytest.raises(ModelError):
        F0VQVAE.from_config(dict(codebook_size=0))


def test_save_load_identical(tmp_path):
    m = trained_tiny()
    w, c = m.save(tmp_path / "f0vq")
    assert w.name == "f0vq.safetensors" and json.loads(c.read_text())["config"]["codebook_size"] == 5
    m2 = F0VQVAE.load(tmp_path / "f0vq.safetensors")
    x = contour_input(2, 97)
    codes = m.encode(x)
    assert torch.equal(codes, m2.encode(x))
    for a, b in zip(m.decode(codes), m2.decode(codes)):
        assert torch.equal(a, b)


def test_load_errors(tmp_path):
    with pytest.raises(ModelError):
        F0VQVAE.load(tmp_path / "missing")
    m = trained_tiny()
    m.save(tmp_path / "a")
    (tmp_path / "a.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelError):
        F0VQVAE.load(tmp_path / "a")
    trained_tiny(hidden=16).save(tmp_path / "b")
    (tmp_path / "b.json").write_text((tmp_path / "a.json").read_text())  # config of another size
    with pytest.raises(ModelError):
        F0VQVAE.load(tmp_path / "b")


def synthetic_cache(tmp_path, n=6):
    """A ``{split}.npz`` like ``extract_split`` writes: gliding contours with unvoiced gaps."""
    rng = np.random.default_rng(0)
    f0s, ns = [], []
    for i in range(n):
        num_samples = int(rng.integers(8000, 40000))
        t = -(-num_samples // 160)
        f = 150 * 2 ** (0.3 * np.sin(np.arange(t) / rng.uniform(5, 20)))
        f[(np.arange(t) // 25) % 3 == 2] = 0
        f0s.append(f.astype(np.float32))
        ns.append(num_samples)
    path = tmp_path / "train.npz"
    np.savez(path, f0=np.concatenate(f0s), offsets=np.r_[0, np.cumsum([len(f) for f in f0s])].astype(np.int64),
             num_samples=np.array(ns, np.int64), speaker=np.arange(n, dtype=np.int32) % 2,
             speaker_names=np.array(["a", "b"]), paths=np.array([f"u{i}.flac" for i in range(n)]))
    return Contours(path)


def losses(run):
    return [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]


def test_training_reduces_loss(tmp_path):
    data = synthetic_cache(tmp_path)
    m = F0VQVAE.from_config(TINY)
    train(m, data, tmp_path / "run", steps=40, batch=8, frames=64, lr=1e-2, warmup=5, log_every=1, quiet=True)
    ls = losses(tmp_path / "run")
    assert len(ls) == 40 and np.mean(ls[-5:]) < 0.95 * np.mean(ls[:5])  # seeded: deterministic


def test_resume_is_identical(tmp_path):
    data = synthetic_cache(tmp_path)
    kw = dict(steps=8, batch=4, frames=32, lr=1e-2, warmup=2, log_every=1, ckpt_every=100, quiet=True)
    a = F0VQVAE.from_config(TINY)
    assert train(a, data, tmp_path / "a", **kw) == 8
    b = F0VQVAE.from_config(TINY)
    assert train(b, data, tmp_path / "b", max_minutes=0, **kw) == 1  # "killed" after one step
    step = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["step"]
    assert step == 1
    b = F0VQVAE.from_config({**TINY})  # a fresh process: new model, state only from the checkpoint
    torch.manual_seed(123)
    assert train(b, data, tmp_path / "b", **kw) == 8
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    oa = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    ob = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert oa["step"] == ob["step"] == 8
    assert torch.equal(oa["rng"]["torch"], ob["rng"]["torch"]) and oa["rng"]["numpy"] == ob["rng"]["numpy"]


def test_codes_file_and_metrics(tmp_path):
    data = synthetic_cache(tmp_path)
    m = F0VQVAE.from_config(TINY)
    train(m, data, tmp_path / "run", steps=3, batch=4, frames=32, lr=1e-2, warmup=1, quiet=True)
    write_codes(m, data, tmp_path / "codes.npz", torch.device("cpu"))
    z = np.load(tmp_path / "codes.npz", allow_pickle=False)
    assert z["f0"].dtype == np.int32 and np.array_equal(np.diff(z["f0_offsets"]), -(-z["num_samples"] // 1280))
    assert z["f0"].min() >= 0 and z["f0"].max() < 5
    r = evaluate(m, {"dev": data}, torch.device("cpu"), baseline_from=data)
    assert set(r) == {"dev", "dev_quantile_baseline"}
    assert 0 <= r["dev"]["vde"] <= 1 and r["dev"]["h2_bits"] <= r["dev"]["h1_bits"] + 1e-9


def test_code_entropy():
    e = code_entropy([np.array([0, 1, 0, 1]), np.array([1, 0])], alphabet=3)
    assert e["used"] == 2 and e["h1_bits"] == pytest.approx(1.0) and e["h2_bits"] == pytest.approx(0.0)
    assert e["perplexity"] == pytest.approx(2.0)


def test_config_is_frozen_and_strict():
    with pytest.raises(Exception):
        F0VQConfig(unknown=1)
    assert F0VQConfig().num_codes == 20 and F0VQConfig(unvoiced_code=True).num_codes == 21
