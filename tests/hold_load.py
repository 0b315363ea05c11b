"""Holds the model's load in the app's own process until a file appears.

Imported as the app starts, by tests/terminal.py's ``hooks=("hold_load",)``. A test of what
the app does while its model loads (a real process on a pty, which the test cannot pause from
outside) then decides when the load ends, instead of racing a load that takes a second on one
machine and ten on another.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import time

LOADER = "llama_chat.models.loader"


class _HoldLoad(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != LOADER:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run_module = spec.loader.exec_module

        def exec_module(module) -> None:
            run_module(module)
            load = module.load_checked

            def held(*args, **kwargs):
                while not os.path.exists(os.environ["LLAMA_CHAT_LOAD_GATE"]):
                    time.sleep(0.05)
                return load(*args, **kwargs)

            module.load_checked = held

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _HoldLoad())
