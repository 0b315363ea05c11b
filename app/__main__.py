"""``python -m llama_chat``: the same as the ``llama-chat`` command."""

from llama_chat.cli import main

raise SystemExit(main())
