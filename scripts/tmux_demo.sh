#!/usr/bin/env bash
# Drive `llama-chat --demo` in tmux the way a person would, and print what the screen shows.
#
# It types a message and watches the answer stream in, stops a second answer with Esc, opens
# the settings and switches the model to 8-bit, quits, starts the app again and reopens the
# chat from the command palette. Every step waits for text on the screen (no blind sleeps for
# correctness) and the script fails, showing the last screen, if something does not appear.
#
#   scripts/tmux_demo.sh                 # uses `llama-chat` from PATH
#   LLAMA_CHAT="python -m app.cli" scripts/tmux_demo.sh
#
# Everything is written to a temporary LLAMA_CHAT_HOME, removed at the end. Needs tmux.

set -euo pipefail

LLAMA_CHAT=${LLAMA_CHAT:-llama-chat}
SOCKET="llama-chat-demo-$$"  # a private tmux server: never touches the user's sessions
SESSION=demo
WIDTH=110
HEIGHT=34
HOME_DIR=$(mktemp -d)
export LLAMA_CHAT_HOME="$HOME_DIR"

tmux_() { tmux -L "$SOCKET" "$@"; }
cleanup() {
    tmux_ kill-server 2>/dev/null || true
    rm -rf "$HOME_DIR"
}
trap cleanup EXIT

screen() { tmux_ capture-pane -p -t "$SESSION"; }

show() {
    echo
    echo "=== $1 ==="
    screen
}

# wait_for TEXT [SECONDS]: until TEXT is on the screen.
wait_for() {
    local text=$1 limit=${2:-60} waited=0
    until screen | grep -qF -- "$text"; do
        sleep 0.2
        waited=$((waited + 1))
        if ((waited > limit * 5)); then
            show "FAILED: no \"$text\" after ${limit}s"
            exit 1
        fi
    done
}

start_app() {
    tmux_ new-session -d -s "$SESSION" -x "$WIDTH" -y "$HEIGHT" \
        "$LLAMA_CHAT --demo --max-tokens 300; echo \"app exited with status \$?\"; sleep 60"
}

keys() { tmux_ send-keys -t "$SESSION" "$@"; }

# -- 1. start: the screen comes up at once, the demo model loads behind it -----------------
started=$(date +%s.%N)
start_app
wait_for "Message Llama" 10
painted=$(date +%s.%N)
wait_for "DEMO 4bit" 60
show "started (first screen after $(echo "$painted - $started" | bc) s, demo model loaded)"

# -- 2. a message, and its answer streaming in --------------------------------------------
keys -l "Hello from tmux"
keys Enter
wait_for "writing…" 30
sleep 1
show "streaming (1 s in)"
first=$(screen | grep -c "│" || true)
sleep 2
show "streaming (3 s in)"
later=$(screen | grep -c "│" || true)
echo "answer box lines: $first -> $later (growing while it streams)"
wait_for "tok/s" 120
show "first answer finished (status bar: TTFT, tok/s, peak memory)"

# -- 3. a second answer, stopped with Esc ----------------------------------------------------
keys -l "Tell me a very long story"
keys Enter
wait_for "writing…" 30
sleep 1.5
keys Escape
wait_for "■ stopped" 10
show "second answer stopped with Esc (partial text kept, marked stopped)"

# -- 4. settings: switch to 8-bit -------------------------------------------------------------
keys C-s
wait_for "Precision" 10
show "settings"
keys Enter      # open the Precision list (it has the focus)
sleep 0.5
keys Down
keys Enter      # 8bit
sleep 0.5
keys C-s        # save
waited=0
until grep -qF '"quant": "8bit"' "$HOME_DIR/config/settings.json" 2>/dev/null; do
    sleep 0.2
    waited=$((waited + 1))
    ((waited < 50)) || { show "FAILED: the settings were not saved with 8bit"; exit 1; }
done
# The demo's random weights are 4-bit at every precision setting, and the bar names the
# precision of the weights loaded.
wait_for "DEMO 4bit" 60
show "after switching to 8-bit (same chat, model reloaded; settings.json says 8bit)"

# -- 5. quit, start again, reopen the chat -----------------------------------------------------
keys C-q
wait_for "app exited with status 0" 30
tmux_ kill-session -t "$SESSION"
start_app
wait_for "DEMO 4bit" 60
wait_for "Hello from tmux" 10   # the chat is listed in the sidebar
show "restarted: the chat is in the list"
keys C-p
sleep 0.5
keys -l "Open chat: Hello"
sleep 1
keys Enter
wait_for "You ─" 20
show "the chat reopened with its messages"
keys C-q
wait_for "app exited with status 0" 30
echo
echo "tmux demo finished: every step appeared on screen."
