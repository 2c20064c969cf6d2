"""The housing demo's data: Géron's copy of the 1990 California census districts, with its public source."""

from __future__ import annotations

from training.common.datasets import DataFile, Dataset

CALIFORNIA_HOUSING = Dataset(
    name="california_housing",
    version="handson-ml2 datasets/housing/housing.csv (blob of commit aa555aa)",
    licence="1990 US Census derived data (public, StatLib); handson-ml2 repository Apache-2.0",
    citation="Pace & Barry (1997), Sparse Spatial Autoregressions; modified by A. Geron for Hands-On ML",
    files=(
        DataFile(
            path="california_housing/housing.csv",
            url="https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/housing.csv",
            sha256="8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e",
        ),
    ),
)
