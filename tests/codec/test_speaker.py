import torch

from codec.speaker import SpeakerConfig, SpeakerEncoder

TINY = SpeakerConfig(channels=8, layers=2, dim=16, groups=4, codebook_size=8)


def test_embedding_shape():
    enc = SpeakerEncoder(TINY).eval()
    assert enc(torch.randn(3, 16000) * 0.1).shape == (3, 16)


def test_product_quantizer_round_trip():
    torch.manual_seed(0)
    enc = SpeakerEncoder(TINY)
    vectors = torch.randn(200, 16)
    enc.fit_quantizer(vectors)
    codes = enc.quantize(vectors[:5])
    assert codes.shape == (5, 4) and codes.max() < 8 and codes.min() >= 0
    # Quantizing a codebook vector gives back its own indices.
    recon = enc.dequantize(codes)
    assert torch.equal(enc.quantize(recon), codes)
    # And quantization error is below the vectors' own spread.
    assert (recon - vectors[:5]).pow(2).mean() < vectors.var()
