"""Work on the engine thread: the open chat's owner (chat.py) and the feature jobs that work on
it through its public face (continue_.py, documents.py, branches.py, context.py)."""
