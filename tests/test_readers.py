"""Input formats and their errors, without touching the store."""

import gzip
from pathlib import Path

from retrieval.readers import Skipped, decode_text, parse_date_line, read_bytes, read_path

from .conftest import SAMPLE


def only(records):
    records = list(records)
    assert len(records) == 1, records
    return records[0]


def test_sample_article_layout_is_parsed():
    art = only(read_path(SAMPLE))
    assert art.title.startswith("الحوار الروسي الايراني حول سوريا")
    assert (art.source, art.section, art.published) == ("المدن", "عرب وعالم", "2021-11-22")
    assert art.body.startswith("أعلنت وزارة الخارجية الروسية")
    assert "جميع الحقوق محفوظة" not in art.body  # copyright footer is not article text
    assert art.body.rstrip().endswith("الاعتداءات الإسرائيلية على سوريا\".")
    assert art.id == SAMPLE.stem


def test_plain_text_tolerates_missing_header_lines():
    art = only(read_bytes("عنوان الخبر\n\nنص الخبر الأول.\n\nفقرة ثانية.".encode(), "x.txt"))
    assert (art.title, art.source, art.published) == ("عنوان الخبر", "", "")
    assert art.body == "نص الخبر الأول.\n\nفقرة ثانية."
    art = only(read_bytes("عنوان\nالأحد ٢٠١٨/٠٣/٠٤\nنص".encode(), "y.txt"))
    assert art.published == "2018-03-04" and art.body == "نص"


def test_date_line_variants():
    assert parse_date_line("الإثنين 2021/11/22") == "2021-11-22"
    assert parse_date_line("22-11-2021") == "2021-11-22"
    assert parse_date_line("الخميس ١٢/٠٥/٢٠٢٢") == "2022-05-12"
    assert parse_date_line("ليس تاريخاً") is None


def test_jsonl_good_and_bad_lines_name_the_line():
    data = ('{"id": "a", "title": "t", "text": "نص"}\n'
            "{not json\n"
            '{"id": "b"}\n'
            '{"id": "c", "text": "نص", "title": 5}\n'
            '["list"]\n').encode()
    records = list(read_bytes(data, "batch.jsonl"))
    assert [r.id for r in records if not isinstance(r, Skipped)] == ["a"]
    problems = {r.location: r.reason for r in records if isinstance(r, Skipped)}
    assert set(problems) == {"batch.jsonl:2", "batch.jsonl:3", "batch.jsonl:4", "batch.jsonl:5"}
    assert "invalid JSON" in problems["batch.jsonl:2"]
    assert "'text'" in problems["batch.jsonl:3"]
    assert "'title'" in problems["batch.jsonl:4"]


def test_jsonl_without_id_gets_a_stable_derived_id():
    line = '{"source": "bbc", "url": "https://x/1", "text": "نص"}'
    first = only(read_bytes(line.encode(), "a.jsonl"))
    edited = only(read_bytes(line.replace("نص", "نص معدل").encode(), "b.jsonl"))
    assert first.id == edited.id  # same source + URL: the edit replaces the article


def test_json_array_and_gzip():
    data = gzip.compress('[{"id": "a", "text": "نص"}, {"id": "b", "text": "نص آخر"}]'.encode())
    assert [r.id for r in read_bytes(data, "two.json.gz")] == ["a", "b"]


def test_windows_1256_arabic_is_decoded_correctly():
    text = "وزارة الخارجية الروسية أعلنت أن الوفد زار طهران يوم السبت لبحث الوضع في سوريا"
    assert decode_text(text.encode("cp1256")) == text


def test_latin1_or_binary_is_refused_not_indexed_as_mojibake():
    for raw in ("Ceci est un texte français déjà accentué, très mal encodé".encode("latin-1"),
                b"\x00\x01\x02binary\xff\xfe"):
        record = only(read_bytes(raw, "bad.txt"))
        assert isinstance(record, Skipped)
        assert "UTF-8" in record.reason or "binary" in record.reason


def test_empty_and_broken_files_are_skipped_with_reason(tmp_path: Path):
    assert "empty" in only(read_bytes(b"", "e.txt")).reason
    assert "empty" in only(read_bytes(b"\n\n", "e.jsonl")).reason
    assert "gzip" in only(read_bytes(b"not gzip", "x.jsonl.gz")).reason
    assert "unsupported" in only(read_bytes(b"x", "x.pdf")).reason


def test_gzip_bomb_is_refused():
    bomb = gzip.compress(b"a" * 5_000_000)
    record = only(read_bytes(bomb, "bomb.txt.gz", max_bytes=1_000_000))
    assert isinstance(record, Skipped) and "limit" in record.reason
