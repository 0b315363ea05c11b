"""What switching branches costs the next turn: tokens prefilled after a switch, against a
full re-prefill of the same prompt.

    python scripts/bench_branches.py                  # a chat of 20 exchanges
    python scripts/bench_branches.py --exchanges 100

It writes a chat into a fresh app home, opens it in the real controller on the demo model,
answers its last question again (a second branch), switches back to the first answer and sends
a new message, then prints the prompt length, the tokens the cache kept at the switch, the
tokens prefilled, and the time to the first token; and the same turn with an empty cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llama_chat.controller import ChatController  # noqa: E402
from llama_chat.events import BranchSwitched  # noqa: E402
from llama_chat.paths import AppPaths  # noqa: E402
from llama_chat.settings import Settings  # noqa: E402
from llama_chat.store.sessions import SessionStore  # noqa: E402

ANSWER = "Step {n}: check the config file, run the tests, and write down what changed."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["LLAMA_CHAT_HOME"] = home
        paths = AppPaths.from_env().ensure()
        with SessionStore.open(paths.sessions_db) as store:
            info = store.create_session(system_prompt="", settings={}, model="demo", quant="4bit")
            parent = None
            for n in range(args.exchanges):
                parent = store.add_message(info.id, "user", f"Question {n}?", parent_id=parent).id
                content = ANSWER.format(n=n)
                parent = store.add_message(info.id, "assistant", content, parent_id=parent).id
        events: list = []
        settings = Settings(max_tokens=4, temperature=0.0)
        controller = ChatController(settings, paths, events.append, demo=True, tools_enabled=False)
        controller.load_model().result()
        controller.open_session(info.id).result()
        controller.regenerate().result()
        controller.switch_branch(controller.sessions.active_path(info.id)[-1].id, -1).result()
        kept = [e for e in events if isinstance(e, BranchSwitched)][-1].cached_tokens
        after_switch = controller.send("And then?").result().stats
        conversation = controller.open_conversation
        conversation.messages.pop()  # the same prompt again, from an empty cache
        conversation.cache = conversation.model.make_cache()
        cold = conversation.respond(lambda event: None).stats
        controller.close()
    print(f"exchanges {args.exchanges}: prompt {after_switch.prompt_tokens} tokens")
    print(
        f"  after the switch: cache kept {kept}, prefilled "
        f"{after_switch.prompt_tokens - after_switch.cached_tokens}, "
        f"first token {after_switch.ttft_s * 1000:.0f} ms"
    )
    print(
        f"  empty cache:      prefilled {cold.prompt_tokens - cold.cached_tokens}, "
        f"first token {cold.ttft_s * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
