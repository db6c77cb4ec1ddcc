"""Two baselines the model must beat, evaluated by the same command on the same data.

- `rules`: a cue lexicon built from the codebook's "typical cues" columns (what a careful
  researcher would write by hand in an afternoon).
- `tfidf`: word 1-2-gram TF-IDF of the sentence and, separately, of its context, with one
  balanced logistic regression per axis, fitted on the training split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from stance.corpus import LabelledSentence
from stance.labels import AXES

_UNCLEAR = re.compile(
    r"\b(?:unclear|unknown|not (?:yet |immediately )?(?:clear|known)|uncertain|unsure|whether|may|might|"
    r"could|if|remains? to be seen|possible|possibly|perhaps|undetermined|open question|"
    r"could not (?:say|confirm)|would not say|no way of knowing)\b", re.I)
_BELIEVED = re.compile(
    r"\b(?:believ\w*|think|thinks|thought|views? (?:\w+ )?as|viewed as|consider\w*|assess\w*|suspect\w*|"
    r"suggest\w*|indicat\w*|expect\w*|likely|appear\w*|seem\w*|reportedly|allegedly|probabl\w*|"
    r"apparently|presum\w*|estimat\w*|predict\w*|anticipat\w*|forecast\w*|fear\w*|hope\w*)\b", re.I)
_ANON = re.compile(
    r"\b(?:officials? (?:said|say|says|told)|sources?\b|people (?:familiar|close|briefed)|familiar with|"
    r"condition of anonymity|not authori[sz]ed|(?:a|an|one|two|three|several|some) (?:senior |former |"
    r"western |u\.?s\.? |government |administration )*(?:officials?|diplomats?|people|persons?|insiders?)|"
    r"insiders?|the official|this person|reportedly|allegedly|it is said|according to (?:people|sources|"
    r"officials|those))\b", re.I)
_REPORTING = re.compile(
    r"\b(?:said|says|say|told|tells|according to|announced|stated|statement|wrote|added|confirmed|"
    r"declined to comment|testified|argued|insisted|noted|warned|reported|explained|acknowledged)\b",
    re.I)
_QUOTE = re.compile(r"[\"“”]")


def rule_labels(text: str) -> dict[str, str]:
    certainty = ("unclear" if _UNCLEAR.search(text) else
                 "believed" if _BELIEVED.search(text) else "confirmed")
    if _ANON.search(text):
        attribution = "anonymous"
    elif _REPORTING.search(text) or _QUOTE.search(text):
        attribution = "named"
    else:
        attribution = "none"
    return {"certainty": certainty, "attribution": attribution}


class RuleBaseline:
    name = "rules"

    def predict(self, rows: Sequence[LabelledSentence]) -> dict[str, list[str]]:
        preds = [rule_labels(r.text) for r in rows]
        return {axis: [p[axis] for p in preds] for axis in AXES}


class TfidfBaseline:
    name = "tfidf"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.models: dict[str, object] = {}

    def _features(self, rows: Sequence[LabelledSentence], fit: bool = False):  # type: ignore[no-untyped-def]
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        if fit:
            self.vec_s = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
            self.vec_c = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=20000)
            xs = self.vec_s.fit_transform([r.text for r in rows])
            xc = self.vec_c.fit_transform([r.context or "" for r in rows])
        else:
            xs = self.vec_s.transform([r.text for r in rows])
            xc = self.vec_c.transform([r.context or "" for r in rows])
        return sparse.hstack([xs, 0.5 * xc]).tocsr()

    def fit(self, rows: Sequence[LabelledSentence]) -> TfidfBaseline:
        from sklearn.linear_model import LogisticRegression

        x = self._features(rows, fit=True)
        for axis in AXES:
            clf = LogisticRegression(max_iter=3000, C=4.0, class_weight="balanced", random_state=self.seed)
            clf.fit(x, [r.label(axis) for r in rows])
            self.models[axis] = clf
        return self

    def predict(self, rows: Sequence[LabelledSentence]) -> dict[str, list[str]]:
        x = self._features(rows)
        return {axis: list(np.asarray(self.models[axis].predict(x))) for axis in AXES}  # type: ignore[attr-defined]
