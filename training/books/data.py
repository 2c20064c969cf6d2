"""The books demo's data: the Book-Crossing tutorial subset of ratings, with its public source."""

from __future__ import annotations

from training.common.datasets import DataFile, Dataset

BOOK_CROSSING = Dataset(
    name="book_crossing_u200_b50",
    version="Book-Crossing (Ziegler 2004) 'users > 200 ratings, titles >= 50' tutorial subset: 58,586 ratings",
    licence="Book-Crossing: freely available for research use when acknowledged",
    citation="C.-N. Ziegler, S. M. McNee, J. A. Konstan, G. Lausen, Improving Recommendation Lists Through "
    "Topic Diversification, WWW '05",
    files=(
        DataFile(
            path="book_crossing/final_ratings_u200_b50.csv.gz",
            url="https://raw.githubusercontent.com/Ajay-user/python-flask-book-recommendation-app/"
            "13b735f8f12f8e070f7580ae7122397c351e81bb/filtered_books.csv",
            sha256="1ceefa1efcef25a48e510f93bf35ba3872ac57a94ee742a2ddd04f8e5e6f0156",
            gzipped=True,
        ),
    ),
)
