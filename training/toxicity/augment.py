"""Hand-written benign counter-examples for the heads (the "unintended bias" mitigation of Dixon et al. 2018).

In both corpora nearly every tweet with "hate", "kill" or "stupid" is offensive, so the models learn the words,
not the meaning: "Hate is everywhere but I don't hate you" scored as offensive. These templates put such words
in plainly benign sentences (negated, about things rather than people, about hate as a topic) and join the
heads' training data as "not offensive" / "neither". They are written for this project; the regression sentences
in training/toxicity/evaluate.py are checked not to be among them.
"""

from __future__ import annotations

import itertools

_FEELINGS = ("hate", "can't stand", "really dislike")
_THINGS = (
    "Mondays",
    "traffic jams",
    "waiting in line",
    "this rainy weather",
    "when my phone battery dies",
    "doing the dishes",
    "losing my keys",
    "spoilers",
    "slow wifi",
    "getting up early",
)
_PEOPLE = ("him", "her", "them", "anyone", "my neighbours", "my brother", "those people")
_TOPICS = ("Hate", "Violence", "Anger", "Racism", "Bullying", "Cruelty")
_TOPIC_CLAUSES = (
    "is never the answer",
    "is on the rise and it worries me",
    "has no place in our town",
    "hurts everyone it touches",
    "can be unlearned",
    "should be discussed calmly in schools",
)
_NEGATED = (
    "I don't {feel} {who}",
    "I could never {feel} {who}",
    "Nobody here wants to {feel} {who}",
    "We should not {feel} {who}",
    "Honestly I don't {feel} {who} at all",
)
_IDIOMS = (
    "This song is killing it",
    "You killed it on stage tonight",
    "That workout absolutely killed me",
    "I'm dying to see the new season",
    "The comedian was so funny I nearly died laughing",
    "That was a stupidly good pizza",
    "My sister is crazy talented",
    "The exam was brutal but I passed",
    "This puzzle is insanely hard",
    "We destroyed them at trivia night, great fun",
    "Love wins over hate every time",
    "Stop the hate, spread kindness",
    "There is so much hate online, be kind to each other",
    "I hate to say it, but you were right",
    "I hate that you're moving away, I'll miss you",
)


def benign_examples() -> tuple[str, ...]:
    """About 150 benign sentences that use words the corpora tie to offence."""
    sentences = [f"I {feel} {thing}" for feel, thing in itertools.product(_FEELINGS, _THINGS)]
    sentences += [t.format(feel=f, who=w) for t, f, w in itertools.product(_NEGATED, ("hate", "dislike"), _PEOPLE)]
    sentences += [f"{topic} {clause}" for topic, clause in itertools.product(_TOPICS, _TOPIC_CLAUSES)]
    sentences += list(_IDIOMS)
    return tuple(sentences)
