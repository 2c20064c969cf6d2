from __future__ import annotations

import numpy as np
import pytest

from services.errors import InvalidInputError
from services.inputs import CsvSchema, read_csv

SCHEMA = CsvSchema(required={"a": "number", "name": "text"}, optional={"target": "number"})


def test_read_csv_types_the_columns() -> None:
    frame = read_csv(b"a,name\n1.5,x\n,y\n", SCHEMA)
    assert frame["a"].iloc[0] == 1.5 and np.isnan(frame["a"].iloc[1])
    assert frame["name"].tolist() == ["x", "y"]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_read_csv_detects_the_delimiter(delimiter: str) -> None:
    frame = read_csv(f"a{delimiter}name\n2{delimiter}x\n".encode(), SCHEMA)
    assert frame["a"].tolist() == [2.0]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_read_csv_detects_the_encoding(encoding: str) -> None:
    frame = read_csv("a,name\n1,Café\n".encode(encoding), SCHEMA)
    assert frame["name"].tolist() == ["Café"]


def test_read_csv_keeps_an_optional_column() -> None:
    assert list(read_csv(b"a,name,target\n1,x,3\n", SCHEMA).columns) == ["a", "name", "target"]


def test_read_csv_names_missing_columns() -> None:
    with pytest.raises(InvalidInputError, match=r"missing column\(s\): name\."):
        read_csv(b"a\n1\n", SCHEMA)


def test_read_csv_names_extra_columns() -> None:
    with pytest.raises(InvalidInputError, match=r"unexpected column\(s\): 'colour'"):
        read_csv(b"a,name,colour\n1,x,red\n", SCHEMA)


def test_read_csv_names_mistyped_columns() -> None:
    with pytest.raises(InvalidInputError, match=r"Column a must hold numbers, but row 2 has 'ten'"):
        read_csv(b"a,name\n1,x\nten,y\n", SCHEMA)


def test_read_csv_refuses_an_empty_file() -> None:
    with pytest.raises(InvalidInputError, match="The CSV file is empty"):
        read_csv(b"  \n", SCHEMA)


def test_read_csv_refuses_a_header_without_rows() -> None:
    with pytest.raises(InvalidInputError, match="has a header but no rows"):
        read_csv(b"a,name\n", SCHEMA)


def test_read_csv_refuses_large_files() -> None:
    with pytest.raises(InvalidInputError, match=r"the limit is 0 MB"):
        read_csv(b"a,name\n" + b"1,x\n" * 1000, SCHEMA, max_bytes=100)


def test_read_csv_refuses_too_many_rows() -> None:
    with pytest.raises(InvalidInputError, match=r"more than 2 rows"):
        read_csv(b"a,name\n1,x\n2,y\n3,z\n", SCHEMA, max_rows=2)


def test_read_csv_explains_a_wrong_delimiter() -> None:
    with pytest.raises(InvalidInputError, match=r"read as one column with delimiter ','"):
        read_csv(b"a name\n1 x\n", SCHEMA)


def test_read_csv_names_repeated_columns() -> None:
    with pytest.raises(InvalidInputError, match=r"(repeated column|unexpected column)"):
        read_csv(b"a,name,a\n1,x,2\n", SCHEMA)


def test_read_csv_keeps_other_columns_in_file_order_when_asked() -> None:
    schema = CsvSchema(required={"text": "text"}, keep_other=True)
    frame = read_csv(b"id,text,lang\n1, hello ,en\n2,,fr\n", schema)
    assert list(frame.columns) == ["id", "text", "lang"]
    assert frame["text"].tolist() == ["hello", ""]
