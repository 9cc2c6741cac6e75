"""The vault's own content rules (README, "Writing a note"): a browsable tag vocabulary and plain headings."""
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from runner.index import read_vault

VAULT = Path(__file__).resolve().parent.parent / "vault"
MAX_VOCABULARY = 30


@pytest.fixture(scope="module")
def notes():
    return read_vault(VAULT).notes


def test_tags_form_a_small_vocabulary_each_shared_by_two_notes(notes):
    used = Counter(tag for note in notes for tag in dict.fromkeys(note.tags))
    lonely = sorted(tag for tag, n in used.items() if n < 2)
    everywhere = sorted(tag for tag, n in used.items() if n > len(notes) // 2)
    assert not lonely, f"tags on a single note (a tag page of one entry): {lonely}"
    assert not everywhere, f"tags on more than half of the notes say nothing: {everywhere}"
    assert len(used) <= MAX_VOCABULARY, f"{len(used)} tags: {sorted(used)}"
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", tag) for tag in used), sorted(used)
    assert all(note.tags for note in notes), [n.rel for n in notes if not n.tags]


def test_readme_lists_the_vocabulary_in_use(notes):
    readme = (VAULT.parent / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"Today's vocabulary: ([^.]+)\.", readme)
    assert listed, "README's 'Tags' section lists the vocabulary"
    assert {t.strip() for t in re.split(r",\s*", listed.group(1))} == {t for n in notes for t in n.tags}


def _pictographs(text: str) -> list[str]:
    # emoji are "other symbols" (So) or need the emoji variation selector; arrows and math (Sm) stay allowed
    return [c for c in text if unicodedata.category(c) == "So" or c == "\ufe0f"]


def test_headings_hold_no_emoji(notes):
    found = [f"{n.rel}:{h.line}: {h.text!r}" for n in notes for h in n.headings if _pictographs(h.text)]
    assert not found, "headings with emoji (empty boxes without an emoji font):\n" + "\n".join(found)


def test_the_emoji_detector_tells_pictographs_from_arrows():
    assert _pictographs("🚀 Quick Start") == ["🚀"]
    assert _pictographs("⚙️ Running") == ["⚙", "\ufe0f"]
    assert _pictographs("Tokens → ids, x ≤ 2, café") == []


def test_beam_search_with_fewer_candidates_than_twice_the_beams():
    """Vocabulary 6 with 4 beams: the first step has 6 candidates, fewer than the 2 * 4 that topk asked for."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(VAULT))
    try:
        from companions.inference import beam_search
        from companions.llm_architecture import GPT, GPTConfig
    finally:
        sys.path.remove(str(VAULT))
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=6, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    hyps = beam_search(model, torch.tensor([[0, 1]]), 3, num_beams=4, length_penalty=0.0)
    assert len(hyps) == 4 and all(len(h["tokens"]) == 3 for h in hyps)
    scores = [h["score"] for h in hyps]
    assert scores == sorted(scores, reverse=True)
