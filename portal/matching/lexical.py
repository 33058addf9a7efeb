"""BM25 over term lists, as a sparse matrix: one need against 100,000 vendors in
milliseconds (a long OR query through Whoosh took seconds)."""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

K1 = 1.2
B = 0.75


@dataclass
class Bm25:
    """Documents as rows of BM25 weights; a query is scored as the sum of its terms'."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    weights: sp.csc_matrix  # documents x terms, column-sliced at query time
    average_length: float

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], base: Bm25 | None = None) -> Bm25:
        """Weights for ``documents`` (read once, so a generator streams); with ``base``, in
        its vocabulary and statistics, so that a few changed documents score on the same
        scale as the base's (terms the base has never seen are left out until the next
        rebuild). Postings are kept in compact arrays: 100,000 vendors make ten million."""
        # With a base its vocabulary is only read, never extended.
        vocabulary: dict[str, int] = base.vocabulary if base is not None else {}
        rows, cols, counts, lengths = array("i"), array("i"), array("f"), array("f")
        for row, document in enumerate(documents):
            lengths.append(len(document))
            for term, count in Counter(document).items():
                column = vocabulary.get(term)
                if column is None:
                    if base is not None:
                        continue
                    column = vocabulary[term] = len(vocabulary)
                rows.append(row)
                cols.append(column)
                counts.append(count)
        row_index = np.frombuffer(rows, dtype=np.int32).astype(np.int64)
        col_index = np.frombuffer(cols, dtype=np.int32).astype(np.int64)
        tf = np.frombuffer(counts, dtype=np.float32)
        doc_lengths = np.frombuffer(lengths, dtype=np.float32)
        shape = (len(doc_lengths), len(vocabulary))
        if base is not None:
            idf, average = base.idf, base.average_length
        else:
            df = np.bincount(col_index, minlength=len(vocabulary))
            n = max(len(doc_lengths), 1)
            idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
            average = float(doc_lengths.mean()) if len(doc_lengths) else 1.0
        saturation = tf + K1 * (1 - B + B * doc_lengths[row_index] / max(average, 1.0))
        data = idf[col_index] * tf * (K1 + 1) / saturation
        weights = sp.csc_matrix((data, (row_index, col_index)), shape=shape, dtype=np.float32)
        return cls(vocabulary, idf, weights, average)

    def save(self, folder: Path, name: str) -> None:
        terms_in_order = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        (folder / f"{name}.vocabulary.json").write_text(json.dumps(terms_in_order))
        np.savez(
            folder / f"{name}.bm25.npz",
            idf=self.idf,
            data=self.weights.data,
            indices=self.weights.indices,
            indptr=self.weights.indptr,
            shape=np.asarray(self.weights.shape),
            average_length=np.asarray([self.average_length]),
        )

    @classmethod
    def load(cls, folder: Path, name: str) -> Bm25:
        terms_in_order = json.loads((folder / f"{name}.vocabulary.json").read_text())
        with np.load(folder / f"{name}.bm25.npz") as arrays:
            weights = sp.csc_matrix(
                (arrays["data"], arrays["indices"], arrays["indptr"]),
                shape=tuple(arrays["shape"]),
            )
            return cls(
                {term: i for i, term in enumerate(terms_in_order)},
                arrays["idf"],
                weights,
                float(arrays["average_length"][0]),
            )

    def query_vector(self, terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and weights (term frequency in the query) of known terms."""
        counts = Counter(t for t in terms if t in self.vocabulary)
        columns = np.fromiter((self.vocabulary[t] for t in counts), dtype=np.int64)
        weights = np.fromiter(counts.values(), dtype=np.float32)
        return columns, weights

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 of every document for the query ``terms``."""
        columns, weights = self.query_vector(terms)
        if len(columns) == 0:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, columns] @ weights).ravel()
