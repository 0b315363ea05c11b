"""The prompt-lookup policy: drafts only where their expected tokens per unit of time beat plain
decoding, from the acceptance so far and each draft width's cost; decodes plainly otherwise (as
plain decoding does, sampled tokens included) and drafts again when the text turns to copying.
Costs are given, never timed, so no outcome depends on the machine's speed."""

from __future__ import annotations

import mlx.core as mx
import pytest

import mlx_model
from mlx_model.lookup import ForwardCosts, LookupPolicy, LookupSteps
from mlx_model.sampling import Sampler
from tests.scripted import make_scripted_checkpoint
from tests.test_lookup import TINY_VOCAB_PROMPT, tiny_vocab_model  # noqa: F401 (a fixture)

# Its module fixtures take seconds to build: with -n 2 the module's tests go to one worker
# (--dist loadgroup), which builds them once, rather than each worker building them.
pytestmark = pytest.mark.xdist_group("lookup-policy")


def measured(seconds: dict[int, float]) -> ForwardCosts:
    """Costs learned from steps of the given seconds per width (each width's first step is
    discarded as a warm-up, so every width is recorded twice)."""
    costs = ForwardCosts()
    for width, s in seconds.items():
        costs.record(width, s)
        costs.record(width, s)
    return costs


def policy_with_acceptance(costs: ForwardCosts, accepted_of_4: list[int]) -> LookupPolicy:
    policy = LookupPolicy(costs)
    for accepted in accepted_of_4:
        policy.record(4, accepted)
    return policy


PROPOSAL = [5, 6, 7, 8]
LOW = [1, 0, 1, 0, 1, 0, 1, 0]  # about one draft token in three accepted


def test_policy_keeps_drafting_where_a_wide_forward_costs_about_one_step():
    near_free = measured({1: 0.100, 2: 0.101, 3: 0.102, 4: 0.103, 5: 0.105})
    policy = policy_with_acceptance(near_free, LOW)
    assert len(policy.choose(PROPOSAL)) >= 3  # a guess right one time in three still pays
    assert policy.worth_drafting()


def test_policy_decodes_plainly_where_a_wide_forward_costs_three_steps():
    cpu_like = measured({1: 0.100, 2: 0.160, 3: 0.180, 4: 0.220, 5: 0.300})
    policy = policy_with_acceptance(cpu_like, LOW)
    assert policy.choose(PROPOSAL) == []
    assert not policy.worth_drafting()
    # Copying (every draft accepted) pays even there (the fourth guess not: it adds a third of
    # a step's cost for less than a token).
    assert policy_with_acceptance(cpu_like, [4, 4, 4]).choose(PROPOSAL) == PROPOSAL[:3]


def test_policy_verifies_only_the_prefix_worth_its_forward():
    # One guessed token costs little more than a plain step, four cost three steps: at 60%
    # to 75% acceptance only the first guess is worth verifying.
    costs = measured({1: 0.100, 2: 0.110, 3: 0.150, 4: 0.200, 5: 0.300})
    policy = policy_with_acceptance(costs, [4, 1, 4, 1, 4, 1, 4, 1])
    assert 0.6 < policy.acceptance < 0.75
    assert policy.choose(PROPOSAL) == PROPOSAL[:1]


def test_an_unmeasured_width_is_tried_and_its_first_step_not_trusted():
    costs = ForwardCosts()
    costs.record(1, 0.1)
    costs.record(1, 0.1)
    costs.record(5, 9.0)  # a first step: kernels built, buffers grown
    assert costs.ratio(5) == 1.0
    costs.record(5, 0.3)
    assert costs.ratio(5) == pytest.approx(3.0)


# -- a scripted model: 20 tokens the prompt guesses wrong, then a copy of the prompt ----------

DETOUR = list(range(100, 120))
COPY = list(range(200, 232))


@pytest.fixture(scope="module")
def detour_then_copy(tmp_path_factory, tokenizer_model_path):
    sequence = [9, *DETOUR, *COPY]
    chain = dict(zip(sequence, sequence[1:], strict=False))
    path = make_scripted_checkpoint(tmp_path_factory.mktemp("detour"), tokenizer_model_path, chain)
    return mlx_model.load(path, dtype=mx.float32)


# Every pair of the detour is in the prompt, followed by 7 (never said), so each draft there
# is proposed and rejected; the copy is in the prompt as it will be said.
DETOUR_PROMPT = [1, *[t for a in DETOUR[:-1] for t in (a, a + 1, 7)], 3, *COPY, 4, 9]


def lookup(model, policy, max_tokens):
    cache = model.make_cache()
    logits = mlx_model.prefill(model, cache, DETOUR_PROMPT)
    sampler = Sampler(mlx_model.SamplingParams())
    steps = LookupSteps(
        model, cache, sampler, logits, DETOUR_PROMPT, max_tokens=max_tokens, policy=policy
    )
    return list(steps), steps


def test_rejected_drafts_that_cost_more_than_a_step_turn_drafting_off(detour_then_copy):
    model, _ = detour_then_copy
    policy = LookupPolicy(ForwardCosts(fixed=1.5))
    tokens, steps = lookup(model, policy, max_tokens=len(DETOUR))
    assert tokens == DETOUR
    # One rejected draft is enough: no forced drafts, no probes; one token per forward after.
    assert policy.draft_forwards <= 1
    assert steps.forwards == len(DETOUR)


def test_drafting_resumes_when_the_text_turns_to_copying(detour_then_copy):
    model, _ = detour_then_copy
    policy = LookupPolicy(ForwardCosts(fixed=1.5))
    tokens, steps = lookup(model, policy, max_tokens=len(DETOUR) + len(COPY))
    assert tokens == DETOUR + COPY
    # The plain steps' unverified guesses came true, so the copy is verified 5 tokens a pass.
    assert policy.draft_tokens >= 20
    assert steps.forwards <= len(DETOUR) + len(COPY) // 2


def test_with_drafting_off_sampling_is_plain_decodings_token_for_token(
    tiny_vocab_model,  # noqa: F811 (the fixture imported above)
    detour_then_copy,
):
    # Six tokens, so every pair has an earlier occurrence and a draft is always proposed: a
    # policy that verified any would draw other random keys and (almost surely) other tokens.
    _, tokenizer = detour_then_copy  # any tokenizer shows ids 0-5
    sampling = mlx_model.SamplingParams(
        temperature=1.0, seed=11, repetition_penalty=1.3, repetition_context=8
    )
    model, prompt = tiny_vocab_model, TINY_VOCAB_PROMPT
    plain, _, _ = mlx_model.generate_all(
        model, tokenizer, prompt, max_tokens=30, stop_ids=[], sampling=sampling
    )
    never = LookupPolicy(ForwardCosts(fixed=100.0))
    cache = model.make_cache()
    logits = mlx_model.prefill(model, cache, prompt)
    steps = LookupSteps(
        model, cache, Sampler(sampling), logits, prompt, max_tokens=30, policy=never
    )
    # The same random keys, penalty windows and K/V: plain decoding's tokens.
    assert list(steps) == plain
    assert never.draft_forwards == 0 and steps.forwards == 30
