"""Article -> clean text -> sentences with offsets and their preceding-sentence context.

This is the one place that decides what the model sees for a sentence, so training data built
from articles and articles scored later get exactly the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from stance.clean import CleanText
from stance.readers import Article
from stance.segment import Sentence, segment


@dataclass
class Document:
    article: Article
    clean: CleanText
    sentences: list[Sentence]

    @property
    def contexts(self) -> list[str]:
        """The sentence before each sentence (headline included); '' for the first."""
        return [""] + [s.text for s in self.sentences[:-1]]


def prepare(article: Article) -> Document:
    """Clean and segment one article; raises ValueError when nothing is left to label."""
    clean, sentences = segment(article.text, title=article.title)
    if not sentences:
        reason = "only boilerplate" if clean.removed else "no text"
        raise ValueError(f"no sentences after cleaning ({reason})")
    return Document(article, clean, sentences)
