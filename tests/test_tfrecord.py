"""TFRecord container: checksums, round trips, and every way a file can be broken."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blackboxes.nb101 import tfrecord
from harness.errors import DataCorrupt


def test_crc32c_is_castagnoli_and_masked_as_tensorflow_does():
    import crc32c

    assert crc32c.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720 B.4)
    crc = 0xE3069283
    assert tfrecord.masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_record_layout():
    rec = tfrecord.encode_record(b"abc")
    length, length_crc = struct.unpack_from("<QI", rec)
    assert length == 3 and length_crc == tfrecord.masked_crc32c(rec[:8])
    assert rec[12:15] == b"abc"
    assert struct.unpack_from("<I", rec, 15)[0] == tfrecord.masked_crc32c(b"abc")
    assert len(rec) == 8 + 4 + 3 + 4


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_round_trip(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("tf") / "x.tfrecord"
    tfrecord.write_records(path, records)
    assert list(tfrecord.read_records(path)) == records
    assert tfrecord.looks_like_tfrecord(path) == bool(records)


@pytest.fixture
def three(tmp_path):
    path = tmp_path / "three.tfrecord"
    tfrecord.write_records(path, [b"first", b"second record", b"third"])
    return path


def test_truncation_anywhere_names_file_and_record(three, tmp_path):
    data = three.read_bytes()
    first = 8 + 4 + 5 + 4
    second_end = first + 8 + 4 + 13 + 4
    for cut in range(1, len(data)):
        if cut in (first, second_end):  # a clean record boundary is a shorter valid file
            continue
        bad = tmp_path / "cut.tfrecord"
        bad.write_bytes(data[:cut])
        with pytest.raises(DataCorrupt) as err:
            list(tfrecord.read_records(bad))
        record = 0 if cut < first else 1 if cut < second_end else 2
        msg = str(err.value)
        assert str(bad) in msg and f"record {record}" in msg and "truncated" in msg and "\n" not in msg


def test_flipped_data_byte_fails_data_checksum(three, tmp_path):
    data = bytearray(three.read_bytes())
    data[8 + 4 + 5 + 4 + 12 + 2] ^= 0x01  # inside the second record's data
    bad = tmp_path / "flip.tfrecord"
    bad.write_bytes(bytes(data))
    it = tfrecord.read_records(bad)
    assert next(it) == b"first"
    with pytest.raises(DataCorrupt, match=r"bad data checksum in record 1"):
        next(it)


def test_flipped_length_fails_length_checksum(three, tmp_path):
    data = bytearray(three.read_bytes())
    data[8 + 4 + 5 + 4] ^= 0x01  # the second record's length
    bad = tmp_path / "len.tfrecord"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataCorrupt, match=r"corrupt \(bad length checksum in record 1"):
        list(tfrecord.read_records(bad))


def test_other_files_are_not_tfrecords(tmp_path):
    csv = tmp_path / "table.tfrecord"
    csv.write_text("module_hash,val_acc_108ep\n" + "0" * 32 + ",0.9\n")
    assert not tfrecord.looks_like_tfrecord(csv)
    with pytest.raises(DataCorrupt, match=r"not a TFRecord file \(bad length checksum in record 0"):
        list(tfrecord.read_records(csv))
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    assert list(tfrecord.read_records(empty)) == []
