"""Behaviour of the ingest file readers, on real files written to tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.files import file_lines
from service.errors import InvalidInput, NotFound
from service.files.ingest_files import ParsedRecord, batched, count_lines, detect_format, read_documents
from service.schemas import DocumentIn

BOM = b"\xef\xbb\xbf"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def jsonl(*objects: object) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def docs(records: list[ParsedRecord]) -> list[DocumentIn]:
    return [r.document for r in records if r.document is not None]


def errors(records: list[ParsedRecord]) -> list[str]:
    return [r.error for r in records if r.error is not None]


# --------------------------------------------------------------------------- JSONL


def test_jsonl_reads_ids_text_and_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.jsonl",
        jsonl(
            {"external_id": "a", "text": "alpha", "metadata": {"lang": "en", "n": 3}},
            {"id": "b", "text": "beta"},
            {"id": 42, "text": "numeric id"},
        ),
    )
    records = list(read_documents(path))
    assert [r.line for r in records] == [1, 2, 3]
    assert all(r.ok for r in records)
    a, b, c = docs(records)
    assert (a.external_id, a.text, a.metadata) == ("a", "alpha", {"lang": "en", "n": 3})
    assert (b.external_id, b.metadata) == ("b", {})
    assert c.external_id == "42"


def test_jsonl_unknown_top_level_keys_become_metadata(tmp_path: Path) -> None:
    path = write(tmp_path, "flat.jsonl", jsonl({"id": "x", "text": "t", "lang": "de", "tags": ["a"]}))
    (record,) = read_documents(path)
    assert record.document is not None
    assert record.document.metadata == {"lang": "de", "tags": ["a"]}


def test_jsonl_extra_key_beside_metadata_object_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", jsonl({"id": "x", "text": "t", "metadata": {"a": 1}, "lang": "de"}))
    (record,) = read_documents(path)
    assert not record.ok
    assert record.error is not None
    assert record.error.startswith("line 1: unexpected field 'lang'")


def test_jsonl_metadata_must_be_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", jsonl({"id": "x", "text": "t", "metadata": [1, 2]}))
    (record,) = read_documents(path)
    assert record.error == "line 1: field 'metadata': expected a JSON object, got array"


def test_jsonl_bad_lines_reported_with_line_numbers_and_rest_parsed(tmp_path: Path) -> None:
    content = (
        '{"id": "1", "text": "ok one"}\n'  # 1
        "\n"  # 2 blank: skipped, still counted
        '{"id": "3" "text": "x"}\n'  # 3 malformed
        '{"text": "no id"}\n'  # 4
        '{"id": "5"}\n'  # 5
        '{"id": "6", "text": "   "}\n'  # 6
        "[1, 2]\n"  # 7
        '{"id": "8", "text": "ok eight"}\n'  # 8
        '{"id": "9", "text": NaN}\n'  # 9
        '{"id": true, "text": "bool id"}'  # 10, no trailing newline
    )
    records = list(read_documents(write(tmp_path, "mixed.jsonl", content)))
    assert [r.line for r in records] == [1, 3, 4, 5, 6, 7, 8, 9, 10]
    assert [d.external_id for d in docs(records)] == ["1", "8"]
    errs = errors(records)
    assert errs[0] == "line 3: malformed JSON: Expecting ',' delimiter (col 12)"
    assert errs[1] == "line 4: missing field 'external_id' (or 'id')"
    assert errs[2] == "line 5: missing field 'text'"
    assert errs[3] == "line 6: field 'text': text is empty"
    assert errs[4] == "line 7: expected a JSON object, got array"
    assert errs[5].startswith("line 9: malformed JSON: NaN")
    assert errs[6].startswith("line 10: field 'id': ")


def test_jsonl_error_names_custom_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jsonl({"key": "k1", "body": ""}, {"key": "k2", "body": "fine", "text": "meta"}))
    records = list(read_documents(path, id_field="key", text_field="body"))
    assert records[0].error == "line 1: field 'body': text is empty"
    doc = records[1].document
    assert doc is not None
    assert (doc.external_id, doc.text, doc.metadata) == ("k2", "fine", {"text": "meta"})


def test_jsonl_custom_id_field_disables_id_alias(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jsonl({"id": "x", "text": "t"}))
    (record,) = read_documents(path, id_field="key")
    assert record.error == "line 1: missing field 'key'"


def test_jsonl_bom_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.jsonl", BOM + b'{"id": "a", "text": "x"}\r\n{"id": "b", "text": "y"}\r\n')
    assert [d.external_id for d in docs(list(read_documents(path)))] == ["a", "b"]


def test_jsonl_bad_utf8_is_an_error_for_that_line_only(tmp_path: Path) -> None:
    content = b'{"id": "a", "text": "x"}\n{"id": "b", "text": "caf\xe9"}\n{"id": "c", "text": "z\xc3\xa9"}\n'
    records = list(read_documents(write(tmp_path, "bad.jsonl", content)))
    assert records[1].error == "line 2: invalid UTF-8: byte 0xe9 at position 25"
    assert [d.external_id for d in docs(records)] == ["a", "c"]
    assert docs(records)[1].text == "zé"


def test_overlong_line_is_an_error_and_later_lines_keep_their_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_lines, "MAX_LINE_BYTES", 64)  # the cap lives with the line reader
    long_line = json.dumps({"id": "long", "text": "x" * 500})
    content = jsonl({"id": "a", "text": "x"}) + long_line + "\n" + jsonl({"id": "c", "text": "z"})
    records = list(read_documents(write(tmp_path, "long.jsonl", content)))
    assert records[1].error == "line 2: line longer than 64 bytes"
    assert [(r.line, r.document.external_id) for r in records if r.document] == [(1, "a"), (3, "c")]


# --------------------------------------------------------------------------- CSV


def test_csv_columns_ids_and_string_metadata(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "external_id,text,lang,year\na,alpha,en,2020\nb,beta,,007\n")
    records = list(read_documents(path))
    assert [r.line for r in records] == [2, 3]
    a, b = docs(records)
    assert (a.external_id, a.text, a.metadata) == ("a", "alpha", {"lang": "en", "year": "2020"})
    assert b.metadata == {"lang": "", "year": "007"}


def test_csv_infer_types_is_opt_in(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "id,text,n,x,flag,zip,empty,word\na,alpha,12,1.5,TRUE,007,,nan\n")
    (record,) = read_documents(path, csv_infer_types=True)
    assert record.document is not None
    assert record.document.metadata == {
        "n": 12,
        "x": 1.5,
        "flag": True,
        "zip": "007",
        "empty": None,
        "word": "nan",
    }


def test_csv_multiline_quoted_fields_keep_start_line_numbers(tmp_path: Path) -> None:
    content = (
        "id,text\n"  # 1
        'a,"first\nsecond\nthird"\n'  # 2-4
        "\n"  # 5 blank
        "b,\n"  # 6 empty text
        'c,"two\nlines"\n'  # 7-8
        "d,plain\n"  # 9
    )
    records = list(read_documents(write(tmp_path, "m.csv", content)))
    assert [r.line for r in records] == [2, 6, 7, 9]
    assert records[0].document is not None and records[0].document.text == "first\nsecond\nthird"
    assert records[1].error == "line 6: field 'text': text is empty"
    assert [d.external_id for d in docs(records)] == ["a", "c", "d"]


def test_csv_malformed_rows_reported_and_reading_continues(tmp_path: Path) -> None:
    content = (
        "id,text,lang\n"  # 1
        'a,"bad"quote,en\n'  # 2
        "b,too,many,cells\n"  # 3
        "c,few\n"  # 4
        "d,good,en\n"  # 5
        'e,"never closed,en\n'  # 6-7
        "f,swallowed,en\n"
    )
    records = list(read_documents(write(tmp_path, "bad.csv", content)))
    errs = errors(records)
    assert errs[0].startswith("line 2: malformed CSV: ")
    assert errs[1] == "line 3: expected 3 fields (as in the header), got 4"
    assert errs[2] == "line 4: expected 3 fields (as in the header), got 2"
    assert errs[3].startswith("line 6: malformed CSV: ")
    assert [(r.line, r.document.external_id) for r in records if r.document] == [(5, "d")]


def test_csv_header_without_required_columns_is_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "name,body\na,b\nc,d\n")
    assert [r.error for r in read_documents(path)] == ["line 1: header: missing column 'external_id' (or 'id')"]
    path = write(tmp_path, "h2.csv", "id,body\na,b\n")
    assert [r.error for r in read_documents(path)] == ["line 1: header: missing column 'text'"]


def test_csv_bom_tsv_and_custom_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "d.tsv", BOM + "key\tbody\tsource\nk1\thello, world\tweb\n".encode())
    (record,) = read_documents(path, id_field="key", text_field="body")
    assert record.document is not None
    assert (record.document.external_id, record.document.text) == ("k1", "hello, world")
    assert record.document.metadata == {"source": "web"}


def test_csv_bad_utf8_is_an_error_for_that_record_only(tmp_path: Path) -> None:
    content = b"id,text\na,caf\xe9\nb,fine\n"
    records = list(read_documents(write(tmp_path, "u.csv", content)))
    assert records[0].error == "line 2: field 'text': invalid UTF-8: byte 0xe9"
    assert [(r.line, r.document.external_id) for r in records if r.document] == [(3, "b")]


def test_csv_accepts_texts_longer_than_csv_default_field_limit(tmp_path: Path) -> None:
    long_text = "word " * 40_000  # 200,000 characters > csv's default 131,072
    path = write(tmp_path, "long.csv", f'id,text\na,"{long_text}"\n')
    (record,) = read_documents(path)
    assert record.document is not None and len(record.document.text) == len(long_text)


def test_empty_files_yield_nothing(tmp_path: Path) -> None:
    for name in ("e.csv", "e.jsonl", "e.txt"):
        assert list(read_documents(write(tmp_path, name, ""))) == []


# --------------------------------------------------------------------------- plain text


def test_text_lines_become_documents_with_stable_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", BOM + b"first line\r\n\n   \nthird  \nlast without newline")
    first = list(read_documents(path))
    assert [(d.external_id, d.text) for d in docs(first)] == [
        ("notes:1", "first line"),
        ("notes:4", "third  "),
        ("notes:5", "last without newline"),
    ]
    again = list(read_documents(path))
    assert [d.external_id for d in docs(again)] == [d.external_id for d in docs(first)]


def test_text_bad_utf8_line_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "t.txt", b"ok\n\xff\xfe\nfine\n")
    records = list(read_documents(path))
    assert records[1].error == "line 2: invalid UTF-8: byte 0xff at position 1"
    assert [d.external_id for d in docs(records)] == ["t:1", "t:3"]


# --------------------------------------------------------------------------- format selection


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jsonl", "jsonl"),
        ("a.NDJSON", "jsonl"),
        ("a.csv", "csv"),
        ("a.tsv", "csv"),
        ("a.txt", "text"),
        ("a.md", "text"),
        ("noext", "text"),
    ],
)
def test_detect_format_by_extension(name: str, expected: str) -> None:
    assert detect_format(Path(name)) == expected


def test_auto_detection_drives_parsing_and_explicit_format_overrides(tmp_path: Path) -> None:
    line = '{"id": "a", "text": "json"}\n'
    as_json = write(tmp_path, "data.ndjson", line)
    as_text = write(tmp_path, "data.log", line)
    assert docs(list(read_documents(as_json)))[0].text == "json"
    assert docs(list(read_documents(as_text)))[0].text == line.rstrip("\n")  # text fallback
    assert docs(list(read_documents(as_text, "jsonl")))[0].external_id == "a"
    csv_in_txt = write(tmp_path, "table.txt", "id,text\nr1,row\n")
    assert [d.external_id for d in docs(list(read_documents(csv_in_txt, fmt="csv")))] == ["r1"]


def test_bad_arguments_raise_before_iteration(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown ingest format") as bad_format:
        read_documents(write(tmp_path, "a.txt", "x"), "xml")  # type: ignore[arg-type]
    assert bad_format.value.field == "format"
    with pytest.raises(NotFound) as missing:
        read_documents(tmp_path / "missing.jsonl")
    assert missing.value.field == "path"


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "".join(f"line {i}\n" for i in range(10_000)))
    iterator = read_documents(path)
    first = next(iterator)
    assert first.document is not None and first.document.external_id == "big:1"


def test_parsed_record_holds_exactly_one_outcome() -> None:
    with pytest.raises(ValueError):
        ParsedRecord(line=1)
    with pytest.raises(ValueError):
        ParsedRecord(line=1, document=DocumentIn(external_id="a", text="b"), error="x")


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", 0), (b"a", 1), (b"a\n", 1), (b"a\nb", 2), (b"\n\n\n", 3), (b"x\n" * 300_000 + b"y", 300_001)],
)
def test_count_lines(tmp_path: Path, content: bytes, expected: int) -> None:
    assert count_lines(write(tmp_path, "c.txt", content)) == expected


def test_count_lines_matches_last_record_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", 'id,text\na,"x\ny"\nb,z\n')
    assert list(read_documents(path))[-1].line == 4
    assert count_lines(path) == 4


def test_batched() -> None:
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError):
        list(batched([1], 0))
