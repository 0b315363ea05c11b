"""The Textual terminal app: what ``llama-chat`` opens when run without ``-p``."""
