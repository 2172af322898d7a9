"""Model bundles: one folder with every model srb needs, its entropy tables, and a content hash.

Layout of a bundle folder::

    bundle.json            BundleConfig: each component's typed config, stream geometry, model card
    content.safetensors    content encoder (audio -> units)
    f0vq.safetensors       F0 VQ-VAE (normalised F0 -> codes)
    speaker.safetensors    speaker encoder, its product quantizer and the known-speaker table
    decoder.safetensors    vocoder (units, F0 codes, speaker vector -> audio)
    tables.npz             entropy tables (bitstream.EntropyTables)
    render.json            optional: RenderConfig, how the decoded audio is finished (postfilter, pitch resynthesis,
                           envelope smoother, band refiner)
    refiner.safetensors    the band refiner's weights, when render.json names one
    narrowband.json, narrowband_content.safetensors, narrowband_speaker.safetensors
                           optional: encoders for band-limited input such as telephone speech
                           (codec.narrowband), used when the input measures band-limited

The model id written in every ``.srb`` header is the first 4 bytes of SHA-256 over these files'
names and bytes (``render.json``, ``refiner.safetensors`` and the narrowband files excepted), so
a file decodes only with the exact bundle that made it. ``render.json`` stays outside the id because it changes only what the decoder does after the
vocoder, never what the streams mean: files made before a bundle gained it still decode. The
narrowband encoders stay outside for the same reason on the encoder's side: they send units and
speaker codes of the same tables and codebooks. Weights
are read with safetensors (no pickle); configs are validated by pydantic before any module is built.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from safetensors.torch import load_file, save_file

from bitstream import EntropyTables, SrbTablesError

from .bundle_id import BUNDLE_FILES, COMPONENTS, is_model_id, model_id_of
from .errors import ModelError
from .postfilter import PostfilterConfig
from .refiner import RefinerConfig
from .resynth import ResynthConfig
from .smoother import SmootherConfig

RENDER_FILE = "render.json"


class BundleConfig(BaseModel):
    """What ``bundle.json`` holds."""

    model_config = ConfigDict(extra="forbid")

    format: str = "srb-bundle"
    version: int = 1
    name: str
    sample_rate: int = 16000
    unit_hop: int = 320
    f0_hop: int = 1280
    packet_frames: int = 100
    content: dict
    f0vq: dict
    speaker: dict
    decoder: dict
    #: The envelope layer (codec.envelope.EnvelopeConfig, its codebook included), or None: bundles
    #: from srb-v0.6 on may send band-level corrections (format 1.4).
    envelope: dict | None = None
    #: Envelope layers of models under ``decodes`` whose layer this one replaced: their files carry
    #: codes of those layers (codec.earlier_layers: {"model", "layer", "symbol", "max_run"} each).
    envelope_earlier: list[dict] = []
    card: dict = {}  # model card: data, training time, measured results, limits
    #: Model ids (8 hex digits) of earlier bundles whose files this one decodes: bundles that share
    #: its content model, F0 VQ-VAE, speaker encoder and tables byte for byte and differ only in the
    #: decoder, so their streams mean what this bundle's mean (written by ``codec.train.bundle --reuse``).
    decodes: list[str] = []

    @field_validator("decodes")
    @classmethod
    def _hex_ids(cls, ids: list[str]) -> list[str]:
        for i in ids:
            if not is_model_id(i):
                raise ValueError(f"model id {i!r} is not 8 lowercase hex digits")
        return ids


class RenderConfig(BaseModel):
    """What ``render.json`` holds: decoder-side finishing, outside the model id."""

    model_config = ConfigDict(extra="forbid")

    postfilter: PostfilterConfig | None = None
    resynth: ResynthConfig | None = None
    smoother: SmootherConfig | None = None
    refiner: RefinerConfig | None = None  # its weights: refiner.safetensors beside render.json


def save_render(folder, render: RenderConfig) -> None:
    (Path(folder) / RENDER_FILE).write_text(json.dumps(render.model_dump(), indent=1, sort_keys=True))


def load_render(folder) -> RenderConfig:
    """A bundle's :class:`RenderConfig`; the default (no postfilter) when it has no ``render.json``.

    Raises:
        ModelError: an invalid ``render.json``.
    """
    path = Path(folder) / RENDER_FILE
    if not path.is_file():
        return RenderConfig()
    try:
        return RenderConfig(**json.loads(path.read_text()))
    except (ValidationError, ValueError, TypeError) as exc:
        raise ModelError(f"{path} is invalid: {exc}") from exc


def component_classes() -> dict:
    from .content import ContentEncoder
    from .decoder import Decoder
    from .f0vq import F0VQVAE
    from .speaker import SpeakerEncoder

    return {"content": ContentEncoder, "f0vq": F0VQVAE, "speaker": SpeakerEncoder, "decoder": Decoder}


def stored_state(state: dict) -> dict:
    """A module's state as a bundle stores it: float16 storage halves the bundle (the 30 MB
    budget); modules compute in float32 (:func:`computed_state`)."""
    return {k: (v.detach().half() if v.is_floating_point() else v.detach()).contiguous().cpu()
            for k, v in state.items()}


def computed_state(state: dict) -> dict:
    """Stored weights back in float32, for ``load_state_dict``."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def save_bundle(folder, config: BundleConfig, modules: dict, tables: EntropyTables) -> int:
    """Write a bundle; returns its model id."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bundle.json").write_text(json.dumps(config.model_dump(), indent=1, sort_keys=True))
    for name in COMPONENTS:
        save_file(stored_state(modules[name].state_dict()), str(folder / f"{name}.safetensors"))
    tables.save(folder / "tables.npz")
    return model_id_of(folder)


def load_bundle(folder):
    """Read a bundle folder.

    Returns:
        ``(config, modules, tables, model_id)``; modules are in eval mode on the CPU.

    Raises:
        ModelError: missing files, invalid config, weights that do not fit the config.
    """
    folder = Path(folder)
    missing = [n for n in BUNDLE_FILES if not (folder / n).is_file()]
    if missing:
        raise ModelError(f"{folder} is not an srb model bundle (missing {', '.join(missing)})")
    try:
        config = BundleConfig(**json.loads((folder / "bundle.json").read_text()))
    except (ValidationError, ValueError, TypeError) as exc:
        raise ModelError(f"{folder}/bundle.json is invalid: {exc}") from exc
    if config.format != "srb-bundle" or config.version != 1:
        raise ModelError(f"unsupported bundle format {config.format} v{config.version}")
    modules = {}
    for name, cls in component_classes().items():
        try:
            module = cls.from_config(getattr(config, name))
            state = load_file(str(folder / f"{name}.safetensors"))
            module.load_state_dict(computed_state(state))
        except ModelError:
            raise
        except Exception as exc:  # pydantic, safetensors and torch all raise their own types
            raise ModelError(f"cannot load {name} from {folder}: {exc}") from exc
        modules[name] = module.eval()
    try:
        tables = EntropyTables.load(folder / "tables.npz")
    except SrbTablesError as exc:
        raise ModelError(f"cannot load entropy tables from {folder}: {exc}") from exc
    return config, modules, tables, model_id_of(folder)
