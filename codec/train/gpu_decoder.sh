# One call on a GPU machine (the device tool): install the carried wheels, train the decoder for
# $MIN minutes (resuming if the machine still holds runs/gpu), hand back weight shards + logs via $OUT.
# Pack first with `python -m codec.train.pack ... --out .gpu`; see docs/TRAINING.md.
# PITCH=1: a decoder that takes the utterance's pitch statistics (pack with --f0-hz);
# REINIT=decoder.f0_emb: re-learn the F0 code embeddings (new F0 VQ-VAE codes, as for v0.2).
# CONTENT=20: the content-consistency loss at that weight (session 9 on CPU: docs/TRAINING.md).
set -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi -L
EXTRA=()
[ "${PITCH:-0}" = 1 ] && EXTRA=(--decoder-config '{"pitch_stats": true}' --f0-hz .gpu/f0hz.npz)
[ -n "${CONTENT:-}" ] && EXTRA+=(--content-weight "$CONTENT")
python3 -m codec.train.decoder --streams .gpu/streams.npz --f0-codes .gpu/f0codes.npz --data .gpu/audio --audio-ext ogg \
  --workers 16 --out runs/gpu --init-from ${INIT:-codec/assets/default} --reinit "${REINIT:-}" --gan-after ${GAN_AFTER:-800} "${EXTRA[@]}" \
  --batch ${BATCH:-32} --lr 2e-4 --minutes ${MIN:-7.5} --threads 8 --device cuda --amp --save-every 500 --log-every 100 \
  --export-shards $OUT 2>&1 | grep -v Warning | tee $OUT/train.log
cp runs/gpu/log.jsonl $OUT/ 2>/dev/null
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv
