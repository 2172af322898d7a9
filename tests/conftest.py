import os

# Tests never touch the network: no model hub, no downloads.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
