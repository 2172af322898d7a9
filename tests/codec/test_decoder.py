import pytest
import torch

from codec.decoder import Decoder, DecoderConfig
from codec.discriminators import (
    DiscriminatorConfig,
    Discriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)

TINY = DecoderConfig(num_units=7, num_f0=5, speaker_dim=8, embed_dim=8, channels=16, intermediate=32, layers=2)


@pytest.mark.parametrize("frames", [pytest.param(1, id="one-frame"), pytest.param(13, id="odd"), pytest.param(64, id="64")])
def test_output_length_matches_units(frames):
    d = Decoder(TINY)
    units = torch.randint(0, 7, (2, frames))
    f0 = torch.randint(0, 5, (2, -(-frames // 4)))
    wav = d(units, f0, torch.randn(2, 8))
    assert wav.shape == (2, frames * 320) and torch.isfinite(wav).all()


def test_short_f0_stream_is_held():
    d = Decoder(TINY)
    wav = d(torch.randint(0, 7, (1, 12)), torch.randint(0, 5, (1, 2)), torch.randn(1, 8))
    assert wav.shape == (1, 12 * 320)


def test_speaker_changes_output():
    torch.manual_seed(0)
    d = Decoder(TINY)
    for p in d.parameters():  # AdaLN starts as identity; perturb so the speaker matters
        torch.nn.init.normal_(p, std=0.1)
    u, f = torch.randint(0, 7, (1, 10)), torch.randint(0, 5, (1, 3))
    assert not torch.allclose(d(u, f, torch.zeros(1, 8)), d(u, f, torch.ones(1, 8)))


def test_pitch_stats_start_neutral_then_steer():
    torch.manual_seed(0)
    base = Decoder(TINY)
    with_stats = Decoder(TINY.model_copy(update={"pitch_stats": True}))
    missing, unexpected = with_stats.load_state_dict(base.state_dict(), strict=False)
    assert all(k.startswith("pitch_proj.") for k in missing) and not unexpected
    u, f, spk = torch.randint(0, 7, (2, 10)), torch.randint(0, 5, (2, 3)), torch.randn(2, 8)
    low, high = torch.tensor([[4.6, 0.1]] * 2), torch.tensor([[5.5, 0.2]] * 2)
    ref = base(u, f, spk)
    # a fresh projection (last layer zero) changes nothing: a trained decoder can be extended
    assert torch.equal(with_stats(u, f, spk, low), ref) and torch.equal(with_stats(u, f, spk, None), ref)
    for p in with_stats.parameters():
        torch.nn.init.normal_(p, std=0.1)
    assert not torch.allclose(with_stats(u, f, spk, low), with_stats(u, f, spk, high))
    assert torch.equal(base(u, f, spk, low), base(u, f, spk))  # a decoder without them ignores them


def test_macs_of_default_config():
    # Guards the CPU budget: the shipped decoder must stay well under 1 GMAC per audio second.
    assert Decoder(DecoderConfig()).macs_per_second() < 1e9


def test_discriminator_losses_have_gradients():
    disc = Discriminators(DiscriminatorConfig(periods=(2, 3), period_channels=(4, 8), resolutions=((256, 64),),
                                              resolution_channels=4))
    real, fake = torch.randn(2, 4000) * 0.1, (torch.randn(2, 4000) * 0.1).requires_grad_()
    d = discriminator_loss(disc(real), disc(fake.detach()))
    g = generator_adversarial_loss(disc(fake)) + feature_matching_loss(disc(real), disc(fake))
    g.backward()
    assert d.item() > 0 and fake.grad is not None and fake.grad.abs().sum() > 0
